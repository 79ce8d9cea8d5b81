//! Copies of read tables that a rebuild fills, and putting a copy in place of
//! the live table.
//!
//! A copy starts with the live table's columns, checks and the unique
//! indexes upserts need, under the live names (it lives in a schema of its
//! own); once it is full its other indexes are built in one go
//! ([`index_copy`]), much cheaper than keeping them up to date row by row.
//! (Unlogged copies were measured too: logging them afterwards rewrites the
//! whole table and made a rebuild slower.) Copying a million rows
//! back into the live table would cost as much as writing them in the first
//! place, so the copy is renamed into place instead ([`replace_table`]), inside
//! the caller's transaction: readers see the old table until it commits and
//! the new one after. What belongs to the table rather than to its rows —
//! row-level security and its policies, grants, triggers — is carried over
//! from the live table first.

use sqlx::PgConnection;

/// Makes `{schema}.{table}` anew as an empty copy of `public.{table}`, with
/// its primary key, unique and exclusion constraints and unique indexes.
pub async fn create_copy(
    conn: &mut PgConnection,
    schema: &str,
    table: &str,
) -> Result<(), sqlx::Error> {
    let (live, copy) = names(schema, table);
    sqlx::query(&format!("DROP TABLE IF EXISTS {copy}"))
        .execute(&mut *conn)
        .await?;
    sqlx::query(&format!(
        "CREATE TABLE {copy} (LIKE {live} INCLUDING ALL EXCLUDING INDEXES)"
    ))
    .execute(&mut *conn)
    .await?;
    let constraints: Vec<(String, String)> = sqlx::query_as(
        "SELECT conname::text, pg_get_constraintdef(oid) FROM pg_constraint
         WHERE conrelid = $1::regclass AND contype IN ('p', 'u', 'x')
         ORDER BY conname",
    )
    .bind(&live)
    .fetch_all(&mut *conn)
    .await?;
    for (name, definition) in constraints {
        sqlx::query(&format!(
            "ALTER TABLE {copy} ADD CONSTRAINT {} {definition}",
            quote(&name)
        ))
        .execute(&mut *conn)
        .await?;
    }
    copy_indexes(conn, &live, &copy, true).await
}

/// Builds the copy's other indexes, once it holds its rows.
pub async fn index_copy(
    conn: &mut PgConnection,
    schema: &str,
    table: &str,
) -> Result<(), sqlx::Error> {
    let (live, copy) = names(schema, table);
    copy_indexes(conn, &live, &copy, false).await
}

/// Makes on the copy the live table's unique (or other) indexes that back no
/// constraint.
async fn copy_indexes(
    conn: &mut PgConnection,
    live: &str,
    copy: &str,
    unique: bool,
) -> Result<(), sqlx::Error> {
    let definitions: Vec<String> = sqlx::query_scalar(
        "SELECT pg_get_indexdef(index.indexrelid) FROM pg_index AS index
         WHERE index.indrelid = $1::regclass AND index.indisunique = $2
           AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conindid = index.indexrelid)
         ORDER BY index.indexrelid",
    )
    .bind(live)
    .bind(unique)
    .fetch_all(&mut *conn)
    .await?;
    for definition in definitions {
        sqlx::query(&on_copy(&definition, live, copy))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Replaces `public.{table}` with `{schema}.{table}`, a copy made by
/// [`create_copy`] and indexed by [`index_copy`].
pub async fn replace_table(
    tx: &mut PgConnection,
    schema: &str,
    table: &str,
) -> Result<(), sqlx::Error> {
    let (live, copy) = names(schema, table);
    // Taken first, so no reader or writer is half-way through the old table.
    sqlx::query(&format!("LOCK TABLE {live} IN ACCESS EXCLUSIVE MODE"))
        .execute(&mut *tx)
        .await?;
    refuse_foreign_keys(tx, &live).await?;
    carry_row_security(tx, table, &live, &copy).await?;
    carry_grants(tx, &live, &copy).await?;
    carry_triggers(tx, &live, &copy).await?;
    sqlx::query(&format!("DROP TABLE {live}"))
        .execute(&mut *tx)
        .await?;
    sqlx::query(&format!("ALTER TABLE {copy} SET SCHEMA public"))
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// A definition (of an index or trigger) on the live table, made on the copy.
fn on_copy(definition: &str, live: &str, copy: &str) -> String {
    definition.replacen(&format!(" ON {live} "), &format!(" ON {copy} "), 1)
}

/// A foreign key would be lost with the dropped table: refuse rather than
/// lose it silently.
async fn refuse_foreign_keys(tx: &mut PgConnection, live: &str) -> Result<(), sqlx::Error> {
    let keys: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_constraint
         WHERE contype = 'f' AND (conrelid = $1::regclass OR confrelid = $1::regclass)",
    )
    .bind(live)
    .fetch_one(&mut *tx)
    .await?;
    if keys > 0 {
        return Err(sqlx::Error::Protocol(format!(
            "{live} takes part in a foreign key, which replacing the table would drop"
        )));
    }
    Ok(())
}

async fn carry_row_security(
    tx: &mut PgConnection,
    table: &str,
    live: &str,
    copy: &str,
) -> Result<(), sqlx::Error> {
    let (enabled, forced): (bool, bool) = sqlx::query_as(
        "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = $1::regclass",
    )
    .bind(live)
    .fetch_one(&mut *tx)
    .await?;
    if enabled {
        sqlx::query(&format!("ALTER TABLE {copy} ENABLE ROW LEVEL SECURITY"))
            .execute(&mut *tx)
            .await?;
    }
    if forced {
        sqlx::query(&format!("ALTER TABLE {copy} FORCE ROW LEVEL SECURITY"))
            .execute(&mut *tx)
            .await?;
    }
    let policies: Vec<Policy> = sqlx::query_as(
        "SELECT policyname::text, permissive, cmd, roles::text[], qual, with_check
             FROM pg_policies
             WHERE schemaname = 'public' AND tablename = $1",
    )
    .bind(table)
    .fetch_all(&mut *tx)
    .await?;
    for (name, permissive, command, roles, using, check) in policies {
        let roles: Vec<String> = roles
            .iter()
            .map(|role| {
                if role == "public" {
                    "PUBLIC".to_owned()
                } else {
                    quote(role)
                }
            })
            .collect();
        let mut statement = format!(
            "CREATE POLICY {} ON {copy} AS {permissive} FOR {command} TO {}",
            quote(&name),
            roles.join(", ")
        );
        if let Some(using) = using {
            statement.push_str(&format!(" USING ({using})"));
        }
        if let Some(check) = check {
            statement.push_str(&format!(" WITH CHECK ({check})"));
        }
        sqlx::query(&statement).execute(&mut *tx).await?;
    }
    Ok(())
}

/// A policy as `pg_policies` shows it: name, `PERMISSIVE` or `RESTRICTIVE`,
/// command, roles, `USING` and `WITH CHECK` expressions.
type Policy = (
    String,
    String,
    String,
    Vec<String>,
    Option<String>,
    Option<String>,
);

async fn carry_grants(tx: &mut PgConnection, live: &str, copy: &str) -> Result<(), sqlx::Error> {
    let grants: Vec<(Option<String>, String)> = sqlx::query_as(
        "SELECT role.rolname::text, acl.privilege_type
         FROM pg_class AS class
         CROSS JOIN LATERAL aclexplode(class.relacl) AS acl
         LEFT JOIN pg_roles AS role ON role.oid = acl.grantee
         WHERE class.oid = $1::regclass AND acl.grantee <> class.relowner",
    )
    .bind(live)
    .fetch_all(&mut *tx)
    .await?;
    for (role, privilege) in grants {
        let to = role
            .as_deref()
            .map(quote)
            .unwrap_or_else(|| "PUBLIC".into());
        sqlx::query(&format!("GRANT {privilege} ON {copy} TO {to}"))
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

async fn carry_triggers(tx: &mut PgConnection, live: &str, copy: &str) -> Result<(), sqlx::Error> {
    let triggers: Vec<String> = sqlx::query_scalar(
        "SELECT pg_get_triggerdef(oid) FROM pg_trigger
         WHERE tgrelid = $1::regclass AND NOT tgisinternal",
    )
    .bind(live)
    .fetch_all(&mut *tx)
    .await?;
    for definition in triggers {
        sqlx::query(&on_copy(&definition, live, copy))
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// The live table's name and the copy's.
fn names(schema: &str, table: &str) -> (String, String) {
    (
        format!("public.{table}"),
        format!("{}.{}", quote(schema), quote(table)),
    )
}

/// An identifier quoted for SQL.
fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}
