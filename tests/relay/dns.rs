//! A small authoritative DNS server on loopback UDP for the relay discovery
//! tests: it answers SRV and A records from a fixed zone, NXDOMAIN for
//! names it does not know, an empty answer for known names without the
//! asked type, and records every question it got.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use hickory_resolver::proto::op::{Message, MessageType, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, SRV};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use tokio::net::UdpSocket;

#[derive(Default, Clone)]
pub struct Zone {
    /// name (lower case, no trailing dot) → records
    names: HashMap<String, Vec<RData>>,
}

impl Zone {
    pub fn srv(&mut self, name: &str, priority: u16, weight: u16, port: u16, target: &str) {
        let target = Name::from_ascii(format!("{target}.")).unwrap();
        self.names
            .entry(name.to_ascii_lowercase())
            .or_default()
            .push(RData::SRV(SRV::new(priority, weight, port, target)));
    }

    pub fn a(&mut self, name: &str, ip: Ipv4Addr) {
        self.names
            .entry(name.to_ascii_lowercase())
            .or_default()
            .push(RData::A(A(ip)));
    }

    /// A name that exists but has no records (NOERROR, empty answer).
    pub fn empty(&mut self, name: &str) {
        self.names.entry(name.to_ascii_lowercase()).or_default();
    }
}

pub struct DnsServer {
    pub addr: SocketAddr,
    questions: Arc<Mutex<Vec<(String, RecordType)>>>,
}

impl DnsServer {
    pub async fn start(zone: Zone) -> DnsServer {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let questions = Arc::new(Mutex::new(Vec::new()));
        let log = questions.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                    return;
                };
                let Ok(query) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                let mut answer = Message::new();
                answer
                    .set_id(query.id())
                    .set_message_type(MessageType::Response)
                    .set_op_code(query.op_code())
                    .set_recursion_desired(query.recursion_desired())
                    .set_recursion_available(true)
                    .set_authoritative(true);
                let mut code = ResponseCode::NoError;
                for q in query.queries() {
                    answer.add_query(q.clone());
                    let name = q
                        .name()
                        .to_ascii()
                        .trim_end_matches('.')
                        .to_ascii_lowercase();
                    log.lock().unwrap().push((name.clone(), q.query_type()));
                    match zone.names.get(&name) {
                        None => code = ResponseCode::NXDomain,
                        Some(records) => {
                            for r in records.iter().filter(|r| r.record_type() == q.query_type()) {
                                answer.add_answer(Record::from_rdata(
                                    q.name().clone(),
                                    5,
                                    r.clone(),
                                ));
                            }
                        }
                    }
                }
                answer.set_response_code(code);
                if let Ok(bytes) = answer.to_vec() {
                    let _ = socket.send_to(&bytes, from).await;
                }
            }
        });
        DnsServer { addr, questions }
    }

    /// Every question so far: (name without the trailing dot, type).
    pub fn questions(&self) -> Vec<(String, RecordType)> {
        self.questions.lock().unwrap().clone()
    }
}
