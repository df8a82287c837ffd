//! Arbitrary bytes as a scheduler request body, both encodings: protobuf with the required-field
//! check (`decode_checked`) and Mesos JSON (`from_json_slice`). Whatever decodes must re-encode
//! and decode to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesos_proto::v1::scheduler::{Call, Event};
use mesos_proto::{decode_checked, MesosJson, Message};

fuzz_target!(|data: &[u8]| {
    if let Ok(call) = decode_checked::<Call>(data) {
        let again: Call = decode_checked(&call.encode_to_vec()).expect("re-decodes");
        assert_eq!(again, call);
        // Any complete Call can be written as JSON (enum values prost kept but Mesos does not
        // know are left out, as Mesos would).
        let _ = call.to_json_string();
    }
    let _ = decode_checked::<Event>(data);
    if let Ok(call) = Call::from_json_slice(data) {
        let text = call.to_json_string();
        // Non-finite doubles are written as bare tokens, which are not JSON.
        if !text.contains("Infinity") {
            let again = Call::from_json_str(&text).expect("our JSON decodes");
            assert_eq!(again.to_json_string(), text);
        }
        let back: Call = decode_checked(&call.encode_to_vec()).expect("complete call");
        assert_eq!(back, call);
    }
});
