//! The client's address: the TCP peer's, unless the peer is a proxy the operator trusts
//! (`KEYPORT_TRUSTED_PROXIES`); then the nearest address in `X-Forwarded-For` that is not itself a trusted
//! proxy. Rate limits and the audit log use it. Without trusted proxies the header is ignored, so a client
//! cannot choose its own address.

use actix_web::HttpRequest;
use ipnet::IpNet;
use std::net::IpAddr;

/// The address of the client behind `req`, seen through the `trusted` proxies.
pub fn client_ip(req: &HttpRequest, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    Some(resolve(peer, &forwarded, trusted))
}

fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(&ip))
}

/// From the peer back along `X-Forwarded-For` (right to left), the first hop that is not a trusted proxy.
/// An entry that is not an address ends the walk: whatever stands left of it cannot be believed.
fn resolve(peer: IpAddr, forwarded: &str, trusted: &[IpNet]) -> IpAddr {
    let mut client = peer;
    if !is_trusted(peer, trusted) {
        return client;
    }
    for hop in forwarded
        .rsplit(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
    {
        let Ok(ip) = hop.parse::<IpAddr>() else {
            break;
        };
        client = ip;
        if !is_trusted(ip, trusted) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        assert_eq!(
            resolve(ip("203.0.113.7"), "1.2.3.4", &[]),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn behind_a_trusted_proxy_the_nearest_untrusted_hop_is_the_client() {
        let trusted = nets(&["10.0.0.0/8", "192.0.2.1/32"]);
        // client 198.51.100.9 → proxy 192.0.2.1 → load balancer 10.1.2.3 → keyport
        assert_eq!(
            resolve(ip("10.1.2.3"), "198.51.100.9, 192.0.2.1", &trusted),
            ip("198.51.100.9")
        );
        // A client that forges the header only adds entries left of its own address.
        assert_eq!(
            resolve(ip("10.1.2.3"), "6.6.6.6, 198.51.100.9", &trusted),
            ip("198.51.100.9")
        );
        // A peer that is not trusted cannot speak for anyone.
        assert_eq!(
            resolve(ip("198.51.100.9"), "6.6.6.6", &trusted),
            ip("198.51.100.9")
        );
        // Garbage stops the walk; all hops trusted leaves the leftmost one.
        assert_eq!(
            resolve(ip("10.1.2.3"), "x, 10.9.9.9", &trusted),
            ip("10.9.9.9")
        );
        assert_eq!(resolve(ip("10.1.2.3"), "", &trusted), ip("10.1.2.3"));
    }
}
