//! Which address a request comes from, for per-address back-off and the security log.
//!
//! Behind a reverse proxy every request's TCP peer is the proxy, so the per-address login
//! back-off would lock out everyone at once. The proxy's `X-Forwarded-For` names the real client,
//! but any client can send that header too: it is believed only when the peer is one of the
//! configured `TRUSTED_PROXIES`, and only as far back as the chain of trusted hops goes.

use std::net::IpAddr;

use actix_web::{HttpRequest, web};
use ipnet::IpNet;

use crate::state::AppState;

/// The client address of `req` as text (`unknown` when the peer is not an IP socket).
pub fn client_address(req: &HttpRequest) -> String {
    let Some(peer) = req.peer_addr().map(|a| a.ip()) else {
        return "unknown".into();
    };
    let trusted = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.config.trusted_proxies.as_slice())
        .unwrap_or_default();
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .collect();
    resolve(peer, &forwarded, trusted).to_string()
}

/// Walks the forwarding chain from the nearest hop outwards while the hop is trusted; the first
/// untrusted address is the client. Each proxy appends the address it received the request
/// from, so entries right of the first untrusted one were written by trusted proxies and entries
/// left of it may be forged by the client.
pub fn resolve(peer: IpAddr, forwarded_headers: &[&str], trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let mut client = peer;
    // Several header lines are one list, in order (RFC 9110 §5.3).
    let hops = forwarded_headers
        .iter()
        .flat_map(|line| line.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        if !is_trusted(&client) {
            break;
        }
        match parse_hop(hop) {
            Some(ip) => client = ip,
            // A hop a trusted proxy wrote but nobody can read: stop at that proxy, which is
            // the last address known to be true.
            None => break,
        }
    }
    client
}

/// An `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:5678`, `[::1]:80`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Some(rest) = hop.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    hop.rsplit_once(':')?.0.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|_| panic!("{s}"))
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter()
            .map(|s| s.parse().unwrap_or_else(|_| panic!("{s}")))
            .collect()
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        assert_eq!(
            resolve(ip("198.51.100.7"), &["203.0.113.9"], &[]),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn a_trusted_proxy_names_the_client() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            resolve(ip("10.1.2.3"), &["203.0.113.9"], &trusted),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn forged_entries_left_of_the_client_are_not_believed() {
        let trusted = nets(&["10.0.0.0/8"]);
        // The client sent "1.1.1.1" itself; the edge proxy appended the real address, and an
        // inner proxy appended the edge proxy's.
        assert_eq!(
            resolve(
                ip("10.0.0.2"),
                &["1.1.1.1, 203.0.113.9", "10.0.0.1"],
                &trusted
            ),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            resolve(ip("203.0.113.9"), &["10.0.0.5"], &trusted),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn unreadable_hops_stop_at_the_last_trusted_proxy() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            resolve(ip("10.0.0.2"), &["unknown"], &trusted),
            ip("10.0.0.2")
        );
        assert_eq!(
            resolve(ip("10.0.0.2"), &["[2001:db8::1]:443"], &trusted),
            ip("2001:db8::1")
        );
        assert_eq!(
            resolve(ip("10.0.0.2"), &["203.0.113.9:5000"], &trusted),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_chain_of_only_trusted_hops_ends_at_its_far_end() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            resolve(ip("10.0.0.2"), &["10.0.0.9, 10.0.0.1"], &trusted),
            ip("10.0.0.9")
        );
    }
}
