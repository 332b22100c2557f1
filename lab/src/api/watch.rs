//! Watches as the API server streams them: one JSON event per line (plain objects, Table rows
//! or PartialObjectMetadata), bookmarks, the initial events of a watch from resourceVersion 0,
//! and the 410 `Expired` line of a watch whose resourceVersion the history no longer holds.

use super::*;

/// How a watch presents each object.
#[derive(Clone, Copy)]
enum Shape {
    Plain,
    Table(resources::Include),
    Metadata,
}

fn watch_line(
    kind: &str,
    obj: &Value,
    view: &'static Resource,
    shape: Shape,
    first: bool,
) -> Bytes {
    let object = match shape {
        Shape::Plain => resources::to_view(view, obj.clone()),
        Shape::Table(include) => {
            resources::table(view, std::slice::from_ref(obj), None, first, include)
        }
        Shape::Metadata => partial(obj),
    };
    let mut line = json!({"type": kind, "object": object}).to_string();
    line.push('\n');
    Bytes::from(line)
}

fn bookmark(res: &Resource, rv: u64, initial_end: bool) -> Bytes {
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    let mut line = json!({"type": "BOOKMARK", "object": {"kind": res.kind, "apiVersion": res.api_version(), "metadata": meta}}).to_string();
    line.push('\n');
    Bytes::from(line)
}

fn expired_line(e: &ApiError) -> Bytes {
    let mut line = json!({"type": "ERROR", "object": e.status()}).to_string();
    line.push('\n');
    Bytes::from(line)
}

pub(super) fn stream_response(rx: mpsc::Receiver<Bytes>, content_type: &'static str) -> Response {
    let stream =
        futures::StreamExt::map(ReceiverStream::new(rx), Ok::<_, std::convert::Infallible>);
    let mut r = Response::new(Body::from_stream(stream));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    r
}

pub(super) fn watch(
    o: &Arc<Orchestra>,
    view: &'static Resource,
    ns: Option<&str>,
    q: &Query,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let res = resources::stored(view);
    let (labels, fields) = selectors(q)?;
    let ns = if res.namespaced {
        ns.map(str::to_string)
    } else {
        None
    };
    let shape = if wants_table(headers) {
        Shape::Table(include_object(q)?)
    } else if wants_metadata(headers) {
        Shape::Metadata
    } else {
        Shape::Plain
    };
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(1800);
    let bookmarks = q.flag("allowWatchBookmarks");
    let initial = q.flag("sendInitialEvents");
    let asked_rv = q.get("resourceVersion").unwrap_or("");
    // Read in place: an event's object is decoded only for a watcher it is sent to.
    let matches = move |obj: &Frozen| {
        ns.as_deref()
            .is_none_or(|n| obj["metadata"]["namespace"] == n)
            && selected(&labels, &fields, view, obj)
    };

    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let mut first_table = true;
    let mut line = move |kind: &str, obj: &Value| {
        let l = watch_line(kind, obj, view, shape, first_table);
        first_table = false;
        l
    };
    // Synthetic ADDED events when no (or zero) resourceVersion was given, or initial events asked.
    let mut prelude = Vec::new();
    let (past, mut live, start_rv) = if asked_rv.is_empty() || asked_rv == "0" || initial {
        let (items, rv) = o.store.list_filtered(res, None, &matches);
        for it in &items {
            prelude.push(line("ADDED", it));
        }
        if initial && bookmarks {
            prelude.push(bookmark(view, rv, true));
        }
        let (past, live) = o.store.watch_from(rv)?;
        (past, live, rv)
    } else {
        let rv: u64 = asked_rv
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion '{asked_rv}'")))?;
        match o.store.watch_from(rv) {
            Ok((past, live)) => (past, live, rv),
            Err(e) => {
                // Too old: HTTP 200, then one ERROR event with a 410 Status, then close.
                let _ = tx.try_send(expired_line(&e));
                drop(tx);
                return Ok(stream_response(rx, "application/json"));
            }
        }
    };
    for c in &past {
        if let Change::Object {
            kind,
            resource,
            object,
            ..
        } = &**c
            && std::ptr::eq(*resource, res)
            && matches(object)
        {
            prelude.push(line(kind.as_str(), &object.to_value()));
        }
    }
    let bookmark_every = o.bookmark_every;
    let store_rv = o.store.clone();
    let down = o.down.clone();
    tokio::spawn(async move {
        let mut last_rv = start_rv;
        for l in prelude {
            if tx.send(l).await.is_err() {
                return;
            }
        }
        let deadline = tokio::time::sleep(Duration::from_secs(timeout));
        tokio::pin!(deadline);
        let mut ticker = tokio::time::interval(bookmark_every);
        ticker.tick().await;
        let mut outage = tokio::time::interval(Duration::from_millis(250));
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                _ = outage.tick() => if down.load(std::sync::atomic::Ordering::SeqCst) { return },
                _ = ticker.tick() => {
                    if bookmarks {
                        last_rv = last_rv.max(store_rv.resource_version());
                        if tx.send(bookmark(view, last_rv, false)).await.is_err() { return; }
                    } else if tx.is_closed() {
                        return;
                    }
                }
                msg = live.recv() => match msg {
                    Ok(c) => match &*c {
                        Change::Object { rv, kind, resource, object } => {
                            if std::ptr::eq(*resource, res) && matches(object) {
                                let l = line(kind.as_str(), &object.to_value());
                                if tx.send(l).await.is_err() { return; }
                            }
                            last_rv = *rv;
                        }
                        Change::Expired { rv } => {
                            let _ = tx.send(expired_line(&ApiError::expired(last_rv, *rv))).await;
                            return;
                        }
                    },
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let _ = tx.send(expired_line(&ApiError::expired(last_rv, store_rv.resource_version()))).await;
                        return;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    });
    Ok(stream_response(
        rx,
        if matches!(shape, Shape::Table(_)) {
            TABLE_CT
        } else {
            "application/json"
        },
    ))
}
