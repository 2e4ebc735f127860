//! Radar allow and block lists (`radar_list_entries`): `POST`/`DELETE
//! /radar/lists/{type}/{action}` add and remove normalised entries. An assessment reads the
//! entries matching its attempt with its counters (`super::radar_attempts::signals`). IP
//! entries are networks (an address is a /32 or /128).

use sqlx::PgConnection;

use crate::ids::EnvironmentId;

/// Adds `entry` (with its `network` for `ip_address` lists); `false` when it was already there.
pub async fn add(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    list_type: &str,
    action: &str,
    entry: &str,
    network: Option<&str>,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "insert into radar_list_entries (environment_id, list_type, action, entry, network)
         values ($1, $2, $3, $4, $5::cidr) on conflict do nothing",
    )
    .bind(env)
    .bind(list_type)
    .bind(action)
    .bind(entry)
    .bind(network)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes `entry`; `false` when it was not there.
pub async fn remove(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    list_type: &str,
    action: &str,
    entry: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "delete from radar_list_entries
         where environment_id = $1 and list_type = $2 and action = $3 and entry = $4",
    )
    .bind(env)
    .bind(list_type)
    .bind(action)
    .bind(entry)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
