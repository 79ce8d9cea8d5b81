//! Calling the API through its real HTTP router, in process.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use foldline_graphql::auth::{mint, Authenticator, VerifyingKey};
use foldline_graphql::Limits;
use foldline_server::http::{router, AppState};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;
use uuid::Uuid;

use crate::TestDb;

/// The secret test tokens are signed with.
pub const SECRET: &[u8] = b"foldline-test-secret";

/// The API over a test database.
#[derive(Clone)]
pub struct Api {
    /// The router requests go through.
    pub router: Router,
    /// Its state: the pool, and the bus whose commits wake projection workers.
    pub state: AppState,
}

impl Api {
    /// The API over `db`, checking HS256 tokens signed with [`SECRET`].
    pub fn new(db: &TestDb) -> Api {
        Api::with_limits(db, Limits::default())
    }

    /// The API over `db`, checking tokens with `authenticator`.
    pub fn with_authenticator(db: &TestDb, authenticator: Authenticator) -> Api {
        Api::with(db, authenticator, Limits::default())
    }

    /// The API over `db` with `limits`, checking tokens as [`Api::new`] does.
    pub fn with_limits(db: &TestDb, limits: Limits) -> Api {
        let authenticator =
            Authenticator::new(&VerifyingKey::Secret(SECRET.to_vec()), None, None).unwrap();
        Api::with(db, authenticator, limits)
    }

    fn with(db: &TestDb, authenticator: Authenticator, limits: Limits) -> Api {
        let state = AppState::new(db.pool.clone(), authenticator, limits, true);
        Api {
            router: router(state.clone()),
            state,
        }
    }

    /// A valid token for `user`.
    pub fn token(user: Uuid) -> String {
        mint(SECRET, user, None, 600, None, None).unwrap()
    }

    /// Sends a raw request: `headers` and `body` as given.
    pub async fn send(
        &self,
        headers: &[(&str, &str)],
        body: impl Into<Body>,
    ) -> (StatusCode, Value) {
        let mut request = Request::post("/graphql").header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.answer(request.body(body.into()).unwrap()).await
    }

    /// The status and body of the answer to `request`; a body that is not
    /// JSON comes as a string.
    async fn answer(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, value)
    }

    /// Sends `query` with `variables` as `user` acting in `organization`.
    pub async fn query(
        &self,
        user: Uuid,
        organization: Uuid,
        query: &str,
        variables: Value,
    ) -> (StatusCode, Value) {
        self.answer(Api::request(user, organization, query, variables))
            .await
    }

    /// The request [`Api::query`] sends, for a test that adds headers of
    /// its own or sends it to another router.
    pub fn request(user: Uuid, organization: Uuid, query: &str, variables: Value) -> Request<Body> {
        Request::post("/graphql")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {}", Api::token(user)))
            .header("x-organization-id", organization.to_string())
            .body(Body::from(
                json!({"query": query, "variables": variables}).to_string(),
            ))
            .unwrap()
    }
}

impl Api {
    /// Sends the mutation `name` (`createTask`…) on `id` with `input` (of
    /// its input type, `CreateTaskInput`; `{}` for a command without fields)
    /// as `user` in `organization`, and returns its `position`; panics, with
    /// the response, unless it succeeded.
    pub async fn mutate(
        &self,
        user: Uuid,
        organization: Uuid,
        name: &str,
        id: Uuid,
        input: Value,
    ) -> i64 {
        let query = if input.as_object().is_some_and(|fields| fields.is_empty()) {
            format!("mutation($id: UUID!) {{ {name}(id: $id) {{ position }} }}")
        } else {
            let input_type = input_type(name);
            format!(
                "mutation($id: UUID!, $input: {input_type}!) {{ {name}(id: $id, input: $input) {{ position }} }}"
            )
        };
        let (status, response) = self
            .query(
                user,
                organization,
                &query,
                json!({"id": id, "input": input}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {response}");
        response["data"][name]["position"]
            .as_i64()
            .unwrap_or_else(|| panic!("{name} failed: {response}"))
    }
}

/// The input type of mutation `name`: `createTask` takes a `CreateTaskInput`.
pub fn input_type(mutation: &str) -> String {
    let mut chars = mutation.chars();
    let first = chars.next().map(|c| c.to_ascii_uppercase());
    format!("{}{}Input", first.unwrap_or_default(), chars.as_str())
}

/// The `extensions.code` of each error in a response.
pub fn codes(response: &Value) -> Vec<String> {
    response["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|error| {
            error["extensions"]["code"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect()
}
