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
pub struct Client {
    sender: SendRequest<Full<Bytes>>,
    /// `BENCH_ACCEPT_ENCODING`, sent as `Accept-Encoding` when set (`gzip`),
    /// as a browser would; the client then decodes what it gets.
    accept_encoding: Option<String>,
}

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
        Client {
            sender,
            accept_encoding: std::env::var("BENCH_ACCEPT_ENCODING").ok(),
        }
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
    /// `organization`; gives the status and the body, decoded if it came
    /// gzip-encoded.
    pub async fn graphql(
        &mut self,
        authorization: &str,
        organization: Uuid,
        body: String,
    ) -> (StatusCode, Bytes) {
        let mut request = hyper::Request::post("/graphql");
        if let Some(encoding) = &self.accept_encoding {
            request = request.header("accept-encoding", encoding.as_str());
        }
        let request = request
            .header("host", "localhost")
            .header("content-type", "application/json")
            .header("authorization", authorization)
            .header("x-organization-id", organization.to_string())
            .body(Full::new(Bytes::from(body)))
            .expect("a request");
        let response = self.sender.send_request(request).await.expect("a response");
        let status = response.status();
        let gzipped = response
            .headers()
            .get("content-encoding")
            .is_some_and(|encoding| encoding == "gzip");
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes();
        if gzipped {
            let mut decoded = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut decoded)
                .expect("a gzip body");
            return (status, Bytes::from(decoded));
        }
        (status, bytes)
    }
}
