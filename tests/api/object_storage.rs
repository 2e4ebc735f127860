//! `keystead::storage::S3Store` against a real S3-compatible server (moto, from
//! `tests/sdk/locks/moto/`), checked with an independent client (boto3): whole-object puts, a
//! streamed multipart object, streamed reads, deletes, and the error kinds.

use futures_util::StreamExt;
use keystead::storage::{ErrorKind, S3Store};

use crate::support::moto::Moto;
use crate::support::skip;

async fn read_all(store: &S3Store, key: &str) -> Vec<u8> {
    let mut stream = store.get(key).await.expect("get");
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.expect("chunk"));
    }
    out
}

#[tokio::test]
async fn s3_store_puts_streams_reads_and_deletes_objects() {
    if skip("KEYSTEAD_SKIP_SDK_TESTS", "the S3 client test (moto)") {
        return;
    }
    let moto = Moto::start();
    moto.create_bucket("keystead-test");
    let store = S3Store::new(&moto.config("keystead-test")).expect("client");

    store.put("a/small.txt", &b"hello"[..]).await.expect("put");
    assert_eq!(moto.read("keystead-test", "a/small.txt"), b"hello");
    assert_eq!(read_all(&store, "a/small.txt").await, b"hello");

    // 12 MiB in 1 MiB chunks: more than the writer buffers, so a multipart upload.
    let chunk: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    let mut writer = store.writer("a/big.bin").expect("writer");
    for _ in 0..12 {
        writer.write(chunk.clone()).await.expect("write");
    }
    assert!(
        !moto
            .list("keystead-test", "a/")
            .contains(&"a/big.bin".to_string()),
        "nothing is visible before finish"
    );
    writer.finish().await.expect("finish");
    let big = moto.read("keystead-test", "a/big.bin");
    assert_eq!(big.len(), 12 * 1024 * 1024);
    assert!(big.chunks(chunk.len()).all(|c| c == chunk.as_slice()));
    assert_eq!(read_all(&store, "a/big.bin").await, big);
    assert_eq!(
        moto.list("keystead-test", "a/"),
        vec!["a/big.bin".to_string(), "a/small.txt".to_string()]
    );

    store.delete("a/small.txt").await.expect("delete");
    store
        .delete("a/small.txt")
        .await
        .expect("deleting twice is fine");
    assert_eq!(moto.list("keystead-test", "a/"), vec!["a/big.bin"]);
    let missing = store.get("a/small.txt").await.err().expect("gone");
    assert_eq!(missing.kind, ErrorKind::NotFound);

    let nobucket = S3Store::new(&moto.config("no-such-bucket")).expect("client");
    let err = nobucket.put("x", &b"x"[..]).await.expect_err("no bucket");
    assert_ne!(err.kind, ErrorKind::Denied, "{err}");
    assert!(!format!("{:?}", moto.config("b")).contains("testing-secret"));
}
