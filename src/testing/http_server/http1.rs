//! Just enough HTTP/1.1 for the fake server: requests with `Content-Length` bodies (no chunked
//! requests), responses with `Content-Length`, keep-alive unless a side says `close`.

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The most header bytes a request may have.
const MAX_HEAD: usize = 64 * 1024;
/// The largest request body accepted.
const MAX_BODY: usize = 32 * 1024 * 1024;

/// A parsed request.
#[derive(Debug)]
pub(super) struct Request {
    pub(super) method: String,
    /// The path, still percent-encoded as sent.
    pub(super) path: String,
    /// Query pairs, decoded (`+` and `%20` are spaces).
    pub(super) query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
}

impl Request {
    /// The first header named `name` (case-insensitive).
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first query value named `name`.
    pub(super) fn query_value(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The path's segments, without the leading slash.
    pub(super) fn segments(&self) -> Vec<&str> {
        self.path.trim_start_matches('/').split('/').collect()
    }

    /// The body's form fields (`application/x-www-form-urlencoded`), decoded.
    pub(super) fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(&self.body)
            .into_owned()
            .collect()
    }

    fn wants_close(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

/// A response to write.
#[derive(Debug, Clone)]
pub(super) struct Response {
    pub(super) status: u16,
    pub(super) content_type: &'static str,
    pub(super) body: Vec<u8>,
    pub(super) retry_after: Option<u64>,
    /// Declare the whole body's length, send half of it, then close the connection.
    pub(super) truncate: bool,
}

impl Response {
    /// A JSON response.
    pub(super) fn json(status: u16, value: &serde_json::Value) -> Self {
        Self {
            status,
            content_type: "application/json;charset=UTF-8",
            body: serde_json::to_vec(value).unwrap_or_default(),
            retry_after: None,
            truncate: false,
        }
    }

    /// A response with a raw body.
    pub(super) fn raw(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            content_type,
            body: body.into(),
            retry_after: None,
            truncate: false,
        }
    }
}

/// Why a request could not be read.
#[derive(Debug)]
pub(super) enum ReadError {
    /// The peer closed the connection between requests.
    Closed,
    /// The request is not HTTP/1.1 this server understands; answer `status` and close.
    Bad(u16, &'static str),
}

impl From<std::io::Error> for ReadError {
    fn from(_: std::io::Error) -> Self {
        Self::Closed
    }
}

/// Reads one request; `Closed` when the connection ended before a request began.
pub(super) async fn read_request<R>(reader: &mut R) -> Result<(Request, bool), ReadError>
where
    R: AsyncBufRead + Unpin,
{
    let mut head = Vec::new();
    let mut line = Vec::new();
    let mut lines = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).await?;
        if n == 0 {
            return Err(if head.is_empty() {
                ReadError::Closed
            } else {
                ReadError::Bad(400, "the connection closed inside the request head")
            });
        }
        head.extend_from_slice(&line);
        if head.len() > MAX_HEAD {
            return Err(ReadError::Bad(431, "the request head is too large"));
        }
        let text = String::from_utf8_lossy(&line)
            .trim_end_matches(['\r', '\n'])
            .to_owned();
        if text.is_empty() {
            if lines.is_empty() {
                continue; // stray empty line between requests
            }
            break;
        }
        lines.push(text);
    }
    let mut first = lines[0].split(' ');
    let (Some(method), Some(target), Some(version)) = (first.next(), first.next(), first.next())
    else {
        return Err(ReadError::Bad(400, "malformed request line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(ReadError::Bad(505, "only HTTP/1.x is served"));
    }
    let mut headers = Vec::new();
    for text in &lines[1..] {
        let Some((name, value)) = text.split_once(':') else {
            return Err(ReadError::Bad(400, "malformed header line"));
        };
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, query),
        None => (target, ""),
    };
    let mut request = Request {
        method: method.to_owned(),
        path: path.to_owned(),
        query: url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect(),
        headers,
        body: Vec::new(),
    };
    if request.header("transfer-encoding").is_some() {
        return Err(ReadError::Bad(
            501,
            "chunked request bodies are not served; send Content-Length",
        ));
    }
    let length = match request.header("content-length") {
        None => 0,
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| ReadError::Bad(400, "malformed Content-Length"))?,
    };
    if length > MAX_BODY {
        return Err(ReadError::Bad(413, "the request body is too large"));
    }
    request.body = vec![0; length];
    reader.read_exact(&mut request.body).await?;
    let close = request.wants_close() || version == "HTTP/1.0";
    Ok((request, close))
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Status",
    }
}

/// Writes `response`; with `truncate`, half the body and then the connection is closed (the
/// caller must not write again).
pub(super) async fn write_response<W>(
    writer: &mut W,
    response: &Response,
    close: bool,
) -> std::io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    let retry_after = response
        .retry_after
        .map(|secs| format!("Retry-After: {secs}\r\n"))
        .unwrap_or_default();
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{retry_after}",
        response.status,
        reason(response.status),
        response.content_type,
        response.body.len()
    );
    head.push_str(if close || response.truncate {
        "Connection: close\r\n\r\n"
    } else {
        "Connection: keep-alive\r\n\r\n"
    });
    // One write per response: a head and a body sent apart would wait for a delayed ACK.
    let mut bytes = head.into_bytes();
    let sent = if response.truncate {
        response.body.len() / 2
    } else {
        response.body.len()
    };
    bytes.extend_from_slice(&response.body[..sent]);
    writer.write_all(&bytes).await?;
    writer.flush().await?;
    if response.truncate {
        writer.shutdown().await?;
    }
    Ok(())
}
