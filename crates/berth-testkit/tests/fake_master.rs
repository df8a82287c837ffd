//! The fake master answers like Mesos (statuses and texts of spec §1.3) and plays its script.

use std::time::Duration;

use berth_testkit::fake_master::{FakeMaster, SubscribeReply};
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use mesos_proto::recordio::Decoder;
use mesos_proto::v1::scheduler::call::Type;
use mesos_proto::v1::scheduler::{call, Call, Event};
use mesos_proto::v1::{FrameworkId, FrameworkInfo};
use mesos_proto::MesosJson;

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

fn subscribe_call() -> Call {
    Call {
        r#type: Some(Type::Subscribe as i32),
        subscribe: Some(Box::new(call::Subscribe {
            framework_info: FrameworkInfo {
                user: "root".into(),
                name: "t".into(),
                ..Default::default()
            },
            ..Default::default()
        })),
        ..Default::default()
    }
}

fn post(
    url: &str,
    content_type: Option<&str>,
    body: String,
    stream_id: Option<&str>,
) -> Request<Full<Bytes>> {
    let mut b = Request::post(url);
    if let Some(ct) = content_type {
        b = b.header("content-type", ct);
    }
    if let Some(id) = stream_id {
        b = b.header("Mesos-Stream-Id", id);
    }
    b.body(Full::new(Bytes::from(body))).expect("request")
}

async fn answer(c: &HttpClient, req: Request<Full<Bytes>>) -> (StatusCode, String) {
    let resp = c.request(req).await.expect("fake master answers");
    let status = resp.status();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn fake_master_refuses_bad_requests_with_mesos_texts() {
    let master = FakeMaster::start().await;
    let c = client();
    let url = master.url();
    assert_eq!(
        answer(&c, post(&url, None, "{}".into(), None)).await,
        (
            StatusCode::BAD_REQUEST,
            "Expecting 'Content-Type' to be present".into()
        )
    );
    assert_eq!(
        answer(&c, post(&url, Some("text/plain"), "{}".into(), None))
            .await
            .0,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    let teardown = Call {
        r#type: Some(Type::Teardown as i32),
        framework_id: Some(FrameworkId {
            value: "nope".into(),
        }),
        ..Default::default()
    };
    assert_eq!(
        answer(
            &c,
            post(
                &url,
                Some("application/json"),
                teardown.to_json_string(),
                Some("x")
            )
        )
        .await,
        (StatusCode::BAD_REQUEST, "Framework cannot be found".into())
    );
    assert_eq!(master.requests().len(), 3);
}

#[tokio::test]
async fn fake_master_streams_subscribed_and_checks_the_stream_id() {
    let master = FakeMaster::start().await;
    let c = client();
    let resp = c
        .request(post(
            &master.url(),
            Some("application/json"),
            subscribe_call().to_json_string(),
            None,
        ))
        .await
        .expect("subscribe");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let stream_id = resp.headers()["mesos-stream-id"]
        .to_str()
        .expect("ascii")
        .to_string();
    let mut body = resp.into_body();
    let mut decoder = Decoder::default();
    let first = loop {
        if let Some(r) = decoder.next_record().expect("recordio") {
            break r;
        }
        let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
            .await
            .expect("in time")
            .expect("open")
            .expect("frame");
        if let Ok(d) = frame.into_data() {
            decoder.feed(&d);
        }
    };
    let ev = Event::from_json_slice(&first).expect("event");
    let fw = ev.subscribed.expect("SUBSCRIBED first").framework_id;
    assert_eq!(fw.value, "fake-master-0000");

    let revive = Call {
        r#type: Some(Type::Revive as i32),
        framework_id: Some(fw),
        ..Default::default()
    };
    let (status, text) = answer(
        &c,
        post(
            &master.url(),
            Some("application/json"),
            revive.to_json_string(),
            None,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        text,
        "All non-subscribe calls should include the 'Mesos-Stream-Id' header"
    );
    let (status, _) = answer(
        &c,
        post(
            &master.url(),
            Some("application/json"),
            revive.to_json_string(),
            Some("other"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, text) = answer(
        &c,
        post(
            &master.url(),
            Some("application/json"),
            revive.to_json_string(),
            Some(&stream_id),
        ),
    )
    .await;
    assert_eq!((status, text.as_str()), (StatusCode::ACCEPTED, ""));
    assert_eq!(master.calls_of(Type::Revive).len(), 3);
    master.shutdown().await;
}

#[tokio::test]
async fn fake_master_redirects_with_a_protocol_relative_location() {
    let leader = FakeMaster::start().await;
    let follower = FakeMaster::start().await;
    follower.push_subscribe_reply(SubscribeReply::redirect_to(&leader));
    let resp = client()
        .request(post(
            &follower.url(),
            Some("application/json"),
            subscribe_call().to_json_string(),
            None,
        ))
        .await
        .expect("answer");
    assert_eq!(resp.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(
        resp.headers()["location"],
        format!("//{}/master/api/v1/scheduler", leader.addr()).as_str()
    );
}
