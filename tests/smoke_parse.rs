use bytes::BytesMut;
use msrp::protocol::*;

#[test]
fn parse_whole_and_bytewise() {
    let wire = b"MSRP a786hjs2 SEND\r\nTo-Path: msrp://b:1/x;tcp\r\nFrom-Path: msrp://a:1/y;tcp\r\nMessage-ID: 87652491\r\nByte-Range: 1-33/33\r\nContent-Type: text/plain\r\n\r\nHey\r\n-------a786hjs2 look-alike!!\r\n-------a786hjs2$\r\nMSRP a786hjs2 200 OK\r\nTo-Path: msrp://a:1/y;tcp\r\nFrom-Path: msrp://b:1/x;tcp\r\n-------a786hjs2$\r\n";
    let mut r = ChunkReader::default();
    let mut buf = BytesMut::from(&wire[..]);
    let c = r.read_chunk(&mut buf, None).unwrap().unwrap();
    assert_eq!(&c.data[..], b"Hey\r\n-------a786hjs2 look-alike!!");
    assert_eq!(c.continuation, Continuation::End);
    let resp = r.read_chunk(&mut buf, None).unwrap().unwrap();
    assert_eq!(resp.code(), Some(200));
    assert!(buf.is_empty());
    let mut r = ChunkReader::default();
    let mut buf = BytesMut::new();
    let mut got = vec![];
    for b in wire.iter() {
        buf.extend_from_slice(&[*b]);
        while let Some(c) = r.read_chunk(&mut buf, None).unwrap() {
            got.push(c);
        }
    }
    assert_eq!(got.len(), 2);
    assert_eq!(got[0], c);
    assert_eq!(
        got[0].encode(),
        wire[..wire.len() - resp.encode().len()].to_vec()
    );
}
