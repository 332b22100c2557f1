//! Member status over HTTP. So far: the decoders of each profile's status answer (`decode`);
//! the transports (direct and API-server proxy), timeouts, concurrency and intervals come with
//! the fleet-state work (issue 5).

pub mod decode;
