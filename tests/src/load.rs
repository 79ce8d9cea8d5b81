//! A load generator's client of the served API: one keep-alive HTTP/1.1
//! connection over loopback TCP, as a browser or a gateway holds one.

use std::net::SocketAddr;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::StatusCode;
use hyper_util::rt::TokioIo;
use uuid::Uuid;

/// One connection to the API.
pub struct Client(SendRequest<Full<Bytes>>);

impl Client {
    /// Opens a connection to the API at `address`, with Nagle off.
    pub async fn connect(address: SocketAddr) -> Client {
        let stream = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect to the API");
        stream.set_nodelay(true).expect("nodelay");
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("HTTP handshake");
        tokio::spawn(connection);
        Client(sender)
    }

    /// Opens `count` connections.
    pub async fn connect_many(address: SocketAddr, count: usize) -> Vec<Client> {
        let mut clients = Vec::with_capacity(count);
        for _ in 0..count {
            clients.push(Client::connect(address).await);
        }
        clients
    }

    /// Posts the GraphQL request `body` with `authorization` in
    /// `organization`; gives the status and the body.
    pub async fn graphql(
        &mut self,
        authorization: &str,
        organization: Uuid,
        body: String,
    ) -> (StatusCode, Bytes) {
        let request = hyper::Request::post("/graphql")
            .header("host", "localhost")
            .header("content-type", "application/json")
            .header("authorization", authorization)
            .header("x-organization-id", organization.to_string())
            .body(Full::new(Bytes::from(body)))
            .expect("a request");
        let response = self.0.send_request(request).await.expect("a response");
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes();
        (status, bytes)
    }
}
