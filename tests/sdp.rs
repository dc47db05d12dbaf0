//! The SDP media description of MSRP (`msrp::sdp`): the examples of RFC 4975,
//! RFC 4976 and RFC 5547, bodies shaped like those of other implementations
//! (tests/data/sdp/), round trips, errors that name the attribute, and the
//! offer/answer tables of RFC 6135 §4.2 and RFC 5547 §8.

use msrp::protocol::Uri;
use msrp::sdp::*;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/data/sdp/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn path(text: &str) -> Vec<Uri> {
    Uri::parse_path(text).unwrap()
}

fn roundtrip(md: &MediaDescription) {
    let text = md.to_string();
    assert_eq!(&MediaDescription::parse(&text).unwrap(), md, "{text}");
}

#[test]
fn rfc4975_section_4_offer_and_answer() {
    let offer = MediaDescription::parse(
        "c=IN IP4 atlanta.example.com\r\nm=message 7654 TCP/MSRP *\r\na=accept-types:text/plain\r\na=path:msrp://atlanta.example.com:7654/jshA7weztas;tcp\r\n",
    )
    .unwrap();
    assert_eq!(offer.port, 7654);
    assert_eq!(offer.proto, Proto::Tcp);
    assert_eq!(offer.formats, ["*"]);
    assert_eq!(
        offer.connection.as_ref().unwrap().address,
        "atlanta.example.com"
    );
    assert_eq!(offer.accept_types, ["text/plain"]);
    assert_eq!(
        offer.path,
        path("msrp://atlanta.example.com:7654/jshA7weztas;tcp")
    );
    assert_eq!(offer.setup, None);
    roundtrip(&offer);
    let answer = MediaDescription::parse(
        "c=IN IP4 biloxi.example.com\nm=message 12763 TCP/MSRP *\na=accept-types:text/plain\na=path:msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp\n",
    )
    .unwrap();
    // No a=setup on either side: RFC 4975's model, the offerer connects.
    let n = negotiate(&offer, &answer, true).unwrap();
    assert_eq!(n.role, Role::Active);
    assert_eq!(n.remote_path, answer.path);
    let n = negotiate(&answer, &offer, false).unwrap();
    assert_eq!(n.role, Role::Passive);
}

#[test]
fn rfc4975_fingerprint_example_sha1() {
    let md = MediaDescription::parse(
        "c=IN IP4 atlanta.example.com\r\nm=message 7654 TCP/TLS/MSRP *\r\na=accept-types:text/plain\r\na=path:msrps://atlanta.example.com:7654/jshA7weso3ks;tcp\r\na=fingerprint:SHA-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB\r\n",
    )
    .unwrap();
    assert_eq!(md.proto, Proto::Tls);
    assert_eq!(md.fingerprints.len(), 1);
    assert_eq!(md.fingerprints[0].hash, "sha-1");
    assert_eq!(md.fingerprints[0].value.len(), 20);
    assert_eq!(
        md.fingerprints[0].to_string(),
        "sha-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB"
    );
    roundtrip(&md);
}

#[test]
fn rfc4976_relay_answer_has_two_uris_and_spaces_after_colons() {
    let md = MediaDescription::parse(
        "c=IN IP4 bob.example.com\r\nm=message 1234 TCP/TLS/MSRP *\r\na=accept-types: message/cpim text/plain\r\na=path:msrps://relay.example.com:9000/hjdhfha;tcp msrps://bob.example.com:1234/fuige;tcp\r\n",
    )
    .unwrap();
    assert_eq!(md.accept_types, ["message/cpim", "text/plain"]);
    assert_eq!(md.path.len(), 2);
    roundtrip(&md);
}

const RFC5547_FIGURE_2: &str = "v=0\r\no=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com\r\ns=\r\nc=IN IP4 host.atlanta.example.com\r\nt=0 0\r\nm=message 7654 TCP/MSRP *\r\ni=This is my latest picture\r\na=sendonly\r\na=accept-types:message/cpim\r\na=accept-wrapped-types:*\r\na=path:msrp://atlanta.example.com:7654/jshA7we;tcp\r\na=file-selector:name:\"My cool picture.jpg\" type:image/jpeg size:32349 hash:sha-1:72:24:5F:E8:65:3D:DA:F3:71:36:2F:86:D4:71:91:3E:E4:A2:CE:2E\r\na=file-transfer-id:vBnG916bdberum2fFEABR1FR3ExZMUrd\r\na=file-disposition:attachment\r\na=file-date:creation:\"Mon, 15 May 2006 15:01:31 +0300\"\r\na=file-icon:cid:id2@alicepc.example.com\r\na=file-range:1-32349\r\n";

#[test]
fn rfc5547_figure_2_every_file_attribute() {
    let md = MediaDescription::parse(RFC5547_FIGURE_2).unwrap();
    assert_eq!(md.direction, Some(Direction::SendOnly));
    assert_eq!(
        md.connection.as_ref().unwrap().address,
        "host.atlanta.example.com"
    );
    let sel = md.file.selector.as_ref().unwrap();
    assert_eq!(sel.name.as_deref(), Some("My cool picture.jpg"));
    assert_eq!(sel.media_type.as_deref(), Some("image/jpeg"));
    assert_eq!(sel.size, Some(32349));
    let hash = sel.hash.as_ref().unwrap();
    assert_eq!(hash.algorithm, "sha-1");
    assert_eq!(hash.value[..3], [0x72, 0x24, 0x5f]);
    assert_eq!(
        md.file.transfer_id.as_deref(),
        Some("vBnG916bdberum2fFEABR1FR3ExZMUrd")
    );
    assert_eq!(md.file.disposition.as_deref(), Some("attachment"));
    assert_eq!(
        md.file.dates,
        [(
            "creation".to_string(),
            "Mon, 15 May 2006 15:01:31 +0300".to_string()
        )]
    );
    assert_eq!(md.file.icon.as_deref(), Some("cid:id2@alicepc.example.com"));
    assert_eq!(
        md.file.range,
        Some(FileRange {
            start: 1,
            stop: Some(32349)
        })
    );
    roundtrip(&md);
    let text = md.to_string();
    assert!(text.contains("a=file-selector:name:\"My cool picture.jpg\" type:image/jpeg size:32349 hash:sha-1:72:24:5F:E8"), "{text}");
}

#[test]
fn rfc5547_section_9_1_answer_to_a_file_offer() {
    let offer = MediaDescription::parse(RFC5547_FIGURE_2).unwrap();
    let settings = LocalSettings {
        path: path("msrp://bobpc.example.com:8888/9di4ea;tcp"),
        accept_types: vec!["message/cpim".into()],
        accept_wrapped_types: vec!["*".into()],
        ..Default::default()
    };
    let answer = build_answer(&offer, &settings).unwrap();
    assert_eq!(answer.direction, Some(Direction::RecvOnly));
    assert_eq!(answer.file.selector, offer.file.selector);
    assert_eq!(answer.file.transfer_id, offer.file.transfer_id);
    assert_eq!(answer.port, 8888);
    // No a=setup in the offer: the answerer waits (RFC 4975's offerer connects).
    assert_eq!(answer.setup, Some(Setup::Passive));
    let n = negotiate(&answer, &offer, false).unwrap();
    assert_eq!(n.role, Role::Passive);
    assert_eq!(n.direction, Direction::RecvOnly);
    assert_eq!(n.file.as_ref().unwrap().selector, offer.file.selector);
    let n = negotiate(&offer, &answer, true).unwrap();
    assert_eq!(n.role, Role::Active);
    assert_eq!(n.direction, Direction::SendOnly);
}

#[test]
fn rfc5547_section_9_2_file_request_answered_by_the_sender() {
    let offer = MediaDescription::parse("m=message 7654 TCP/MSRP *\r\na=recvonly\r\na=accept-types:message/cpim\r\na=path:msrp://alicepc.example.com:7654/jshA7we;tcp\r\na=file-selector:hash:sha-1:72:24:5F:E8:65:3D:DA:F3:71:36:2F:86:D4:71:91:3E:E4:A2:CE:2E\r\na=file-transfer-id:aCQYuBRVoUPGVsFZkCK98vzcX2FXDIk2\r\n").unwrap();
    let mine = FileAttributes {
        selector: Some(FileSelector {
            media_type: Some("image/jpeg".into()),
            hash: offer.file.selector.as_ref().unwrap().hash.clone(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let answer = build_answer(
        &offer,
        &LocalSettings {
            path: path("msrp://bobpc.example.com:8888/9di4ea;tcp"),
            file: Some(mine.clone()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(answer.direction, Some(Direction::SendOnly));
    assert_eq!(answer.file.selector, mine.selector);
    assert_eq!(
        answer.file.transfer_id.as_deref(),
        Some("aCQYuBRVoUPGVsFZkCK98vzcX2FXDIk2")
    );
    assert!(answer
        .to_string()
        .contains("a=file-selector:type:image/jpeg hash:sha-1:72:24"));
}

#[test]
fn rfc5547_section_9_3_capability_and_refusal() {
    let md = MediaDescription::parse(
        "m=message 0 TCP/MSRP *\r\na=accept-types:*\r\na=file-selector\r\n",
    )
    .unwrap();
    assert!(md.is_refused());
    assert_eq!(md.file.selector, Some(FileSelector::default()));
    assert!(!md.file.has_file());
    assert!(md.to_string().contains("a=file-selector\r\n"));
    roundtrip(&md);
    let offer = MediaDescription::parse(RFC5547_FIGURE_2).unwrap();
    let no = refuse(&offer);
    assert_eq!(no.to_string(), "m=message 0 TCP/MSRP *\r\n");
    let e = negotiate(&offer, &no, true).unwrap_err();
    assert_eq!(e.attribute, "m=");
}

#[test]
fn reoffer_with_the_same_transfer_id_is_the_same_transfer() {
    let first = MediaDescription::parse(RFC5547_FIGURE_2).unwrap();
    let refresh = MediaDescription::parse(RFC5547_FIGURE_2).unwrap();
    assert!(reoffer_is_same_transfer(&first, &refresh));
    let other = MediaDescription::parse(&RFC5547_FIGURE_2.replace(
        "vBnG916bdberum2fFEABR1FR3ExZMUrd",
        "ZVE8MfI9mhAdZ8GyiNMzNN5dpqgzQlCO",
    ))
    .unwrap();
    assert!(!reoffer_is_same_transfer(&first, &other));
    let chat =
        MediaDescription::parse("m=message 1 TCP/MSRP *\r\na=path:msrp://a:1/x;tcp\r\n").unwrap();
    assert!(!reoffer_is_same_transfer(&chat, &chat));
}

#[test]
fn fixtures_of_other_implementations_parse_and_round_trip() {
    for e in std::fs::read_dir(format!("{}/tests/data/sdp", env!("CARGO_MANIFEST_DIR"))).unwrap() {
        let p = e.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap();
        let md = MediaDescription::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        roundtrip(&md);
    }
}

#[test]
fn sipsimple_chat_offer_skips_audio_and_answers_active() {
    let offer = MediaDescription::parse(&fixture("sipsimple_chat_offer.sdp")).unwrap();
    assert_eq!(offer.proto, Proto::Tls);
    assert_eq!(offer.setup, Some(Setup::Actpass));
    assert_eq!(offer.accept_types.len(), 4);
    assert_eq!(offer.fingerprints[0].hash, "sha-256");
    assert!(
        MediaDescription::parse_nth(&fixture("sipsimple_chat_offer.sdp"), 1)
            .unwrap_err()
            .reason
            .contains("there are 1")
    );
    let mine = SdpFingerprint::sha256_of_certificate(b"not really a certificate");
    let answer = build_answer(
        &offer,
        &LocalSettings {
            path: path("msrps://192.0.2.99:40000/answerer;tcp"),
            fingerprint: Some(mine.clone()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(answer.setup, Some(Setup::Active));
    assert_eq!(answer.proto, Proto::Tls);
    assert_eq!(answer.fingerprints, [mine]);
    assert_eq!(answer.accept_types, ["*"]);
    let n = negotiate(&answer, &offer, false).unwrap();
    assert_eq!(n.role, Role::Active);
    assert_eq!(n.remote_fingerprint, Some(offer.fingerprints[0].clone()));
    assert!(n.secure);
}

#[test]
fn sipsimple_file_offer_name_with_spaces_and_unknown_attribute_kept() {
    let offer = MediaDescription::parse(&fixture("sipsimple_file_offer.sdp")).unwrap();
    let sel = offer.file.selector.as_ref().unwrap();
    assert_eq!(sel.name.as_deref(), Some("holiday photo 2024.jpg"));
    assert_eq!(sel.size, Some(184320));
    assert_eq!(offer.other, [("x-file-offset".to_string(), None)]);
    assert!(offer.to_string().contains("a=x-file-offset\r\n"));
}

#[test]
fn legacy_sha1_hash_name_lower_case_hex_is_accepted_and_written_strictly() {
    let md = MediaDescription::parse(&fixture("sipsimple_legacy_sha1_section.sdp")).unwrap();
    let h = md.file.selector.as_ref().unwrap().hash.as_ref().unwrap();
    assert_eq!(h.algorithm, "sha-1");
    assert!(md.to_string().contains("hash:sha-1:5B:E2:18:6D"));
}

#[test]
fn freeswitch_answers_actpass_with_passive_so_the_offerer_connects() {
    let offer = build_offer(&LocalSettings {
        path: path("msrp://127.0.0.1:4000/off;tcp"),
        ..Default::default()
    })
    .unwrap();
    let answer = MediaDescription::parse(&fixture("freeswitch_answer_to_actpass.sdp")).unwrap();
    let n = negotiate(&offer, &answer, true).unwrap();
    assert_eq!(n.role, Role::Active);
    assert_eq!(
        n.remote_path[0].session_id.as_deref(),
        Some("3f6c1a2e-9b7d-4e05-8a31-c2d4e6f80b19")
    );
    assert_eq!(n.remote_accept_wrapped_types.len(), 3);
}

#[test]
fn doubango_connection_new_is_kept_and_ignored() {
    let offer = MediaDescription::parse(&fixture("doubango_file_offer.sdp")).unwrap();
    assert_eq!(offer.connection_attr, Some(ConnectionAttr::New));
    let answer = build_answer(
        &offer,
        &LocalSettings {
            path: path("msrp://127.0.0.1:4001/ans;tcp"),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(answer.connection_attr, None, "RFC 6135 §4.4: never written");
    assert_eq!(answer.direction, Some(Direction::RecvOnly));
    assert_eq!(answer.file.transfer_id.as_deref(), Some("1766001234999"));
}

#[test]
fn rcsjta_ipv6_tls_offer_with_sha1_fingerprint() {
    let offer = MediaDescription::parse(&fixture("rcsjta_tls_file_offer.sdp")).unwrap();
    assert_eq!(offer.connection.as_ref().unwrap().addr_type, "IP6");
    assert_eq!(offer.fingerprints[0].hash, "sha-1");
    assert_eq!(offer.file.icon.as_deref(), Some("cid:image@joyn.com"));
    assert_eq!(offer.setup, Some(Setup::Active));
    let answer = build_answer(
        &offer,
        &LocalSettings {
            path: path("msrps://[2001:db8::1]:3000/me;tcp"),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(answer.setup, Some(Setup::Passive));
    assert_eq!(
        answer.connection.as_ref().unwrap().to_string(),
        "IN IP6 2001:db8::1"
    );
    let n = negotiate(&answer, &offer, false).unwrap();
    assert_eq!(n.role, Role::Passive);
    assert_eq!(n.remote_fingerprint.unwrap().hash, "sha-1");
}

#[test]
fn crocodile_without_setup_over_websocket_with_percent_encoded_name() {
    let offer = MediaDescription::parse(&fixture("crocodile_ws_file_offer.sdp")).unwrap();
    assert_eq!(offer.proto, Proto::Wss);
    assert_eq!(offer.setup, None);
    assert_eq!(
        offer.file.selector.as_ref().unwrap().name.as_deref(),
        Some("notes \"draft\".txt")
    );
    assert!(offer.to_string().contains("name:\"notes %22draft%22.txt\""));
    let answer = build_answer(
        &offer,
        &LocalSettings {
            path: path("msrps://127.0.0.1:4002/ans;tcp"),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        answer.setup,
        Some(Setup::Passive),
        "a peer without a=setup connects itself"
    );
}

#[test]
fn opensips_msrp_ua_lf_only_without_setup() {
    let offer = MediaDescription::parse(&fixture("opensips_msrp_ua_offer_lf.sdp")).unwrap();
    assert_eq!(offer.path.len(), 2);
    let answer = build_answer(
        &offer,
        &LocalSettings {
            path: path("msrp://127.0.0.1:4003/ans;tcp"),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        negotiate(&answer, &offer, false).unwrap().role,
        Role::Passive
    );
}

#[test]
fn node_lib_active_offer_answered_passive_and_active_override_refused() {
    let offer = MediaDescription::parse(&fixture("msrp_node_lib_active_offer.sdp")).unwrap();
    assert_eq!(offer.direction, Some(Direction::SendRecv));
    let settings = LocalSettings {
        path: path("msrp://127.0.0.1:4004/ans;tcp"),
        ..Default::default()
    };
    assert_eq!(
        build_answer(&offer, &settings).unwrap().setup,
        Some(Setup::Passive)
    );
    let e = build_answer(
        &offer,
        &LocalSettings {
            setup: Some(Setup::Active),
            ..settings
        },
    )
    .unwrap_err();
    assert_eq!(e.attribute, "a=setup");
}

#[test]
fn who_connects_table_for_every_setup_combination() {
    use Setup::*;
    use Side::*;
    let all = [
        Some(Active),
        Some(Passive),
        Some(Actpass),
        Some(Holdconn),
        None,
    ];
    for offer in all {
        for answer in all {
            let got = who_connects(offer, answer).ok();
            let o = Setup::effective(offer);
            let a = match Setup::effective(answer) {
                Some(Actpass) => Some(Passive),
                a => a,
            };
            let want = match (o, a) {
                (Some(Active), Some(Active)) => None,
                (Some(Passive), Some(Passive) | None) => None,
                (_, Some(Active)) | (Some(Passive), _) => Some(Answerer),
                _ => Some(Offerer),
            };
            assert_eq!(got, want, "offer {offer:?} answer {answer:?}");
        }
    }
    // The rows spelled out (RFC 6135 §4.2, RFC 4145 §4.1).
    assert_eq!(who_connects(Some(Actpass), Some(Active)).unwrap(), Answerer);
    assert_eq!(who_connects(Some(Actpass), Some(Passive)).unwrap(), Offerer);
    assert_eq!(who_connects(Some(Actpass), None).unwrap(), Offerer);
    assert_eq!(who_connects(Some(Active), Some(Passive)).unwrap(), Offerer);
    assert_eq!(who_connects(Some(Passive), Some(Active)).unwrap(), Answerer);
    assert_eq!(who_connects(None, None).unwrap(), Offerer);
    assert_eq!(
        who_connects(Some(Holdconn), Some(Active)).unwrap(),
        Answerer
    );
    assert!(who_connects(Some(Active), Some(Active)).is_err());
    assert!(who_connects(Some(Passive), None).is_err());
}

#[test]
fn build_answer_table_for_every_offer_setup_and_override() {
    use Setup::*;
    let settings = |setup| LocalSettings {
        path: path("msrp://127.0.0.1:5000/ans;tcp"),
        setup,
        ..Default::default()
    };
    let cases: &[(Option<Setup>, Option<Setup>, Option<Setup>)] = &[
        // (offer, override, answer's a=setup or None for an error)
        (Some(Actpass), None, Some(Active)),
        (Some(Actpass), Some(Active), Some(Active)),
        (Some(Actpass), Some(Passive), Some(Passive)),
        (Some(Actpass), Some(Actpass), None),
        (Some(Active), None, Some(Passive)),
        (Some(Active), Some(Passive), Some(Passive)),
        (Some(Active), Some(Active), None),
        (Some(Passive), None, Some(Active)),
        (Some(Passive), Some(Active), Some(Active)),
        (Some(Passive), Some(Passive), None),
        (None, None, Some(Passive)),
        (None, Some(Passive), Some(Passive)),
        (None, Some(Active), Some(Active)),
        (Some(Holdconn), None, Some(Passive)),
    ];
    for &(o, over, want) in cases {
        let mut offer = MediaDescription::parse(
            "m=message 6000 TCP/MSRP *\r\na=path:msrp://127.0.0.1:6000/off;tcp\r\n",
        )
        .unwrap();
        offer.setup = o;
        let got = build_answer(&offer, &settings(over));
        assert_eq!(
            got.as_ref().ok().and_then(|a| a.setup),
            want,
            "offer {o:?} override {over:?}: {got:?}"
        );
        if let Ok(answer) = got {
            // Both ends agree on who connects.
            let a = negotiate(&offer, &answer, true).unwrap().role;
            let b = negotiate(&answer, &offer, false).unwrap().role;
            assert_ne!(a, b, "offer {o:?} answer {:?}", answer.setup);
            // An active answerer puts 9 in m= only when its path has port 0 or 9.
            assert_eq!(answer.port, 5000);
        }
    }
}

#[test]
fn offer_setup_and_port_rules() {
    let p = path("msrp://127.0.0.1:0/off;tcp");
    let active = build_offer(&LocalSettings {
        path: p.clone(),
        setup: Some(Setup::Active),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(
        active.port, 9,
        "RFC 4145: an active end without a port advertises 9"
    );
    assert!(active
        .to_string()
        .starts_with("m=message 9 TCP/MSRP *\r\nc=IN IP4 127.0.0.1\r\n"));
    let e = build_offer(&LocalSettings {
        path: p.clone(),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(e.attribute, "m=", "actpass needs a port to listen on");
    let e = build_offer(&LocalSettings {
        path: path("msrp://127.0.0.1:7/x;tcp"),
        setup: Some(Setup::Passive),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(e.attribute, "a=setup");
    let e = build_offer(&LocalSettings {
        path: vec![],
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(e.attribute, "a=path");
    let offer = build_offer(&LocalSettings {
        path: path("msrps://10.0.0.1:7000/abc;tcp"),
        fingerprint: Some(SdpFingerprint::sha256_of_certificate(b"x")),
        accept_types: vec!["text/plain".into(), "message/cpim".into()],
        max_size: Some(1_000_000),
        cema: true,
        ..Default::default()
    })
    .unwrap();
    let text = offer.to_string();
    assert!(
        text.starts_with("m=message 7000 TCP/TLS/MSRP *\r\n"),
        "{text}"
    );
    for line in [
        "a=setup:actpass",
        "a=fingerprint:sha-256 ",
        "a=msrp-cema",
        "a=max-size:1000000",
        "a=accept-types:text/plain message/cpim",
        "a=path:msrps://10.0.0.1:7000/abc;tcp",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
    roundtrip(&offer);
}

#[test]
fn file_offer_is_sendonly_and_needs_a_transfer_id() {
    let file = FileAttributes {
        selector: Some(FileSelector {
            name: Some("a/b\\c%d\".txt".into()),
            media_type: Some("text/plain".into()),
            size: Some(3),
            hash: Some(FileHash::sha1(b"abc")),
            other: vec![],
        }),
        ..Default::default()
    };
    let p = path("msrp://127.0.0.1:7001/x;tcp");
    let e = build_offer(&LocalSettings {
        path: p.clone(),
        file: Some(file.clone()),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(e.attribute, "a=file-transfer-id");
    let offer = build_offer(&LocalSettings {
        path: p,
        file: Some(FileAttributes {
            transfer_id: Some("t1".into()),
            ..file
        }),
        ..Default::default()
    })
    .unwrap();
    let text = offer.to_string();
    assert!(text.contains("a=sendonly\r\n"));
    // SHA-1 of "abc" (FIPS 180 test vector); separators and quotes escaped.
    assert!(text.contains("a=file-selector:name:\"a%2Fb%5Cc%25d%22.txt\" type:text/plain size:3 hash:sha-1:A9:99:3E:36:47:06:81:6A:BA:3E:25:71:78:50:C2:6C:9C:D0:D8:9D\r\n"), "{text}");
    let back = MediaDescription::parse(&text).unwrap();
    assert_eq!(
        back.file.selector.unwrap().name.as_deref(),
        Some("a/b\\c%d\".txt")
    );
}

#[test]
fn fingerprints_of_any_hash_and_matching() {
    let der = b"certificate bytes";
    let fp = SdpFingerprint::sha256_of_certificate(der);
    assert_eq!(fp.matches_certificate(der), Some(true));
    assert_eq!(fp.matches_certificate(b"other"), Some(false));
    let text = fp.to_string();
    let back = SdpFingerprint::parse(&text.to_lowercase().replace("sha-256", "SHA256")).unwrap();
    assert_eq!(back, fp);
    for (name, len) in [
        ("sha-1", 20),
        ("sha-224", 28),
        ("sha-384", 48),
        ("sha-512", 64),
        ("md5", 16),
    ] {
        let hex = vec!["AB"; len].join(":");
        let f = SdpFingerprint::parse(&format!("{} {hex}", name.to_uppercase())).unwrap();
        assert_eq!(f.hash, name);
        assert_eq!(f.matches_certificate(der), Some(false));
    }
    let unknown = SdpFingerprint::parse("x-hash 01:02").unwrap();
    assert_eq!(unknown.matches_certificate(der), None);
    for bad in ["sha-256", "sha-256 AB:CD", "sha-256 XY", "", "sha-1 AB:C"] {
        let e = SdpFingerprint::parse(bad).unwrap_err();
        assert_eq!(e.attribute, "a=fingerprint", "{bad}");
    }
}

#[test]
fn errors_name_the_attribute() {
    let cases = [
        (
            "m=message x TCP/MSRP *\r\na=path:msrp://a:1/x;tcp\r\n",
            "m=",
        ),
        ("m=message 1 RTP/AVP *\r\na=path:msrp://a:1/x;tcp\r\n", "m="),
        ("m=message 1\r\n", "m="),
        ("m=message 1 TCP/MSRP *\r\n", "a=path"),
        ("m=message 1 TCP/MSRP *\r\na=path:http://a/x\r\n", "a=path"),
        (
            "m=message 1 TCP/MSRP *\r\na=path:msrp://a:1/x;tcp\r\na=setup:sideways\r\n",
            "a=setup",
        ),
        (
            "m=message 1 TCP/MSRP *\r\na=path:msrp://a:1/x;tcp\r\na=max-size:big\r\n",
            "a=max-size",
        ),
        (
            "m=message 1 TCP/MSRP *\r\na=path:msrp://a:1/x;tcp\r\na=file-selector:size:-1\r\n",
            "a=file-selector",
        ),
        (
            "m=message 1 TCP/MSRP *\r\na=path:msrp://a:1/x;tcp\r\na=file-selector:hash:sha-1\r\n",
            "a=file-selector",
        ),
        (
            "m=message 1 TCP/MSRP *\r\na=path:msrp://a:1/x;tcp\r\na=file-range:5-2\r\n",
            "a=file-range",
        ),
        (
            "m=message 1 TCP/MSRP *\r\na=path:msrp://a:1/x;tcp\r\na=connection:maybe\r\n",
            "a=connection",
        ),
        (
            "m=message 1 TCP/MSRP *\r\nc=IN\r\na=path:msrp://a:1/x;tcp\r\n",
            "c=",
        ),
        ("v=0\r\nm=audio 1 RTP/AVP 0\r\n", "m="),
        ("", "m="),
    ];
    for (text, attribute) in cases {
        let e = MediaDescription::parse(text).unwrap_err();
        assert_eq!(e.attribute, attribute, "{text:?}: {e}");
        assert!(e.to_string().starts_with(&format!("SDP {attribute}: ")));
    }
}

#[test]
fn session_level_setup_fingerprint_and_connection_are_inherited() {
    let text = "v=0\r\nc=IN IP4 192.0.2.1\r\na=setup:active\r\na=fingerprint:sha-1 01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:11:12:13:14\r\nm=message 9 TCP/TLS/MSRP *\r\na=path:msrps://192.0.2.1:9/s;tcp\r\nm=message 7 TCP/MSRP *\r\na=setup:passive\r\nc=IN IP4 192.0.2.2\r\na=path:msrp://192.0.2.2:7/t;tcp\r\n";
    let first = MediaDescription::parse(text).unwrap();
    assert_eq!(first.setup, Some(Setup::Active));
    assert_eq!(first.fingerprints.len(), 1);
    assert_eq!(first.connection.as_ref().unwrap().address, "192.0.2.1");
    let second = MediaDescription::parse_nth(text, 1).unwrap();
    assert_eq!(second.setup, Some(Setup::Passive));
    assert_eq!(second.connection.as_ref().unwrap().address, "192.0.2.2");
}

#[test]
fn rfc4976_section_11_a_tls_answer_to_a_tcp_offer() {
    // Alice offers TCP/MSRP directly; Bob answers TCP/TLS/MSRP via his relay.
    let offer = MediaDescription::parse("c=IN IP4 a.example.com\r\nm=message 1234 TCP/MSRP *\r\na=accept-types: message/cpim text/plain text/html\r\na=path:msrp://a.example.com:1234/agic456;tcp\r\n").unwrap();
    let answer = build_answer(
        &offer,
        &LocalSettings {
            path: path(
                "msrps://relay.example.com:9000/hjdhfha;tcp msrps://bob.example.com:1234/fuige;tcp",
            ),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(answer.proto, Proto::Tls);
    assert_eq!(answer.port, 1234, "the m= port is the endpoint's own URI's");
    assert_eq!(
        answer.connection.as_ref().unwrap().address,
        "bob.example.com"
    );
    let n = negotiate(&offer, &answer, true).unwrap();
    assert!(n.secure, "Alice reaches Bob's relay over TLS");
    assert!(!negotiate(&answer, &offer, false).unwrap().secure);
}

#[test]
fn cema_is_answered_only_when_both_support_it() {
    let mut offer = MediaDescription::parse(
        "m=message 6000 TCP/MSRP *\r\na=path:msrp://127.0.0.1:6000/off;tcp\r\na=msrp-cema\r\n",
    )
    .unwrap();
    assert!(offer.cema);
    let s = LocalSettings {
        path: path("msrp://127.0.0.1:5000/ans;tcp"),
        cema: true,
        ..Default::default()
    };
    let a = build_answer(&offer, &s).unwrap();
    assert!(a.cema);
    assert!(negotiate(&a, &offer, false).unwrap().cema);
    offer.cema = false;
    assert!(!build_answer(&offer, &s).unwrap().cema);
}

#[test]
fn fuzz_check_holds_on_the_fixtures() {
    for e in std::fs::read_dir(format!("{}/tests/data/sdp", env!("CARGO_MANIFEST_DIR"))).unwrap() {
        let mut data = vec![0u8];
        data.extend(std::fs::read(e.unwrap().path()).unwrap());
        msrp::sdp::fuzz_checks::check_parse_sdp(&data);
    }
    let mut data = vec![1u8];
    data.extend(RFC5547_FIGURE_2.as_bytes());
    msrp::sdp::fuzz_checks::check_parse_sdp(&data);
}
