//! Domain verification through the real resolver (hickory) against a local DNS server that
//! answers TXT queries from a small zone, so the production lookup path is exercised.

use std::collections::HashMap;
use std::sync::Arc;

use hickory_proto::op::{Message, OpCode};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{RData, Record};
use keystead::dns::{SystemResolver, TxtResolver};
use tokio::net::UdpSocket;

/// Serves `zone` (name → TXT strings) on 127.0.0.1:<random> over UDP; returns the address.
async fn local_dns(zone: HashMap<String, Vec<String>>) -> std::net::SocketAddr {
    let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        while let Ok((n, peer)) = socket.recv_from(&mut buf).await {
            let Ok(query) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let mut answer = Message::response(query.metadata.id, OpCode::Query);
            answer.metadata.authoritative = true;
            answer.metadata.recursion_desired = query.metadata.recursion_desired;
            for q in &query.queries {
                answer.add_query(q.clone());
                let name = q.name().to_ascii().trim_end_matches('.').to_lowercase();
                for value in zone.get(&name).into_iter().flatten() {
                    let record = Record::from_rdata(
                        q.name().clone(),
                        60,
                        RData::TXT(TXT::new(vec![value.clone()])),
                    );
                    answer.add_answer(record);
                }
            }
            let _ = socket.send_to(&answer.to_vec().unwrap(), peer).await;
        }
    });
    addr
}

#[tokio::test]
async fn the_system_resolver_reads_txt_records_from_a_configured_server() {
    let zone = HashMap::from([(
        "keystead-domain-verification-abc123.foo-corp.com".to_string(),
        vec!["v=spf1 -all".to_string(), "token-123".to_string()],
    )]);
    let addr = local_dns(zone).await;
    let resolver = SystemResolver::new(Some(addr)).unwrap();
    let found = resolver
        .lookup_txt("keystead-domain-verification-abc123.foo-corp.com")
        .await
        .unwrap();
    assert_eq!(found, ["v=spf1 -all", "token-123"]);
    let missing = resolver
        .lookup_txt("nothing-here.foo-corp.com")
        .await
        .unwrap();
    assert!(
        missing.is_empty(),
        "a name without records is an empty list, not an error"
    );
}
