//! Configuration: real-looking Pakiti 2 and Pakiti 3 files, our TOML, layering, protocol rule.

use std::path::Path;

use pakiti_api::Mode;
use pakiti_client::config::{Config, Layer, Origins, Protocol, choose_protocol};

/// A Pakiti 2 client file as sites have them (the shipped template with values filled in).
const PAKITI2: &str = "\
# Configuration file for Pakiti.

# Pakiti servers, use space as delimiter
# Exmaple: servers_name = pakiti1.server.com:443 pakiti2.server.com:8443
servers_name = pakiti.egi.eu:443 pakiti.cesnet.cz:8443

# URL of Pakiti script on the server, default /feed/
server_url = /feed/

# CA Path
ca_certificate = /etc/grid-security/certificates

# The client certificate and the key
host_cert = /etc/grid-security/hostcertkey.pem

# Connection method: 'curl' or 'openssl' (default) or 'stdout'
connection_method = curl

#openssl_path = /usr/bin/openssl
curl_path = /usr/bin/curl

tag = PRAGUE-WN
report = 1
server_rep_stats = 1
# is_proxy = 0
interface =
";

#[test]
fn pakiti2_file() {
    let l = Layer::from_key_value(Path::new("p2.conf"), PAKITI2).unwrap();
    assert_eq!(
        l.servers.as_deref().unwrap(),
        [
            "https://pakiti.egi.eu:443/feed/",
            "https://pakiti.cesnet.cz:8443/feed/"
        ]
    );
    assert!(l.pakiti2_servers);
    assert_eq!(
        l.ca.as_deref(),
        Some(Path::new("/etc/grid-security/certificates"))
    );
    assert_eq!(
        l.client_cert.as_deref(),
        Some(Path::new("/etc/grid-security/hostcertkey.pem"))
    );
    assert_eq!(l.tag.as_deref(), Some("PRAGUE-WN"));
    assert_eq!(l.interface, None);
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);

    let cfg = Config::resolve(l, Origins::default()).unwrap();
    assert_eq!(cfg.protocol, Protocol::V4);
    assert_eq!(cfg.mode, Mode::StoreAndReport);
    assert!(cfg.server_rep_stats);
    assert!(!cfg.stdout_method);
}

#[test]
fn pakiti2_stdout_and_proxy() {
    let l = Layer::from_key_value(
        Path::new("p2.conf"),
        "connection_method = stdout\nis_proxy = 1\n",
    )
    .unwrap();
    let cfg = Config::resolve(l, Origins::default()).unwrap();
    assert!(cfg.stdout_method && cfg.is_proxy);
    assert_eq!(cfg.protocol, Protocol::V4);
    let bad = Layer::from_key_value(Path::new("p2.conf"), "connection_method = ftp\n");
    assert!(bad.unwrap_err().to_string().contains("ftp"));
}

/// A Pakiti 3 client file with an inline certificate in a heredoc.
#[test]
fn pakiti3_file_with_heredoc() {
    let cert =
        std::fs::read_to_string(crate::support::fixtures().join("smime/server.cert.pem")).unwrap();
    let text = format!(
        "# pakiti-client --config\nurl = https://pakiti.example.org/feed/\nsite = PRAGUE-LCG2\n\
         tag = workers\nmode = store-and-report\nrndsleep = 3600\nrpm = /bin/rpm\n\
         encrypt = <<EOT\n{cert}EOT\nfrobnicate = yes\n"
    );
    let l = Layer::from_key_value(Path::new("p3.cfg"), &text).unwrap();
    assert_eq!(
        l.servers.as_deref().unwrap(),
        ["https://pakiti.example.org/feed/"]
    );
    assert!(l.pakiti3_url && !l.pakiti2_servers);
    assert_eq!(l.encrypt.as_deref(), Some(cert.as_str()));
    assert_eq!(l.rndsleep, Some(3600));
    assert_eq!(l.warnings.len(), 1);
    assert!(l.warnings[0].contains("frobnicate"), "{:?}", l.warnings);
    let cfg = Config::resolve(l, Origins::default()).unwrap();
    assert_eq!(cfg.protocol, Protocol::V5);
    assert_eq!(cfg.mode, Mode::StoreAndReport);
    assert_eq!(cfg.rndsleep.as_secs(), 3600);
    assert_eq!(cfg.encrypt.as_deref(), Some(cert.as_str()));
    assert_eq!(cfg.site.as_deref(), Some("PRAGUE-LCG2"));
}

#[test]
fn key_value_errors_name_the_line() {
    let e = Layer::from_key_value(Path::new("x.cfg"), "# c\nurl = a\nno equals sign\n")
        .unwrap_err()
        .to_string();
    assert_eq!(e, "x.cfg:3: expected key = value, found \"no equals sign\"");
    let e = Layer::from_key_value(Path::new("x.cfg"), "encrypt = <<EOT\nabc\n")
        .unwrap_err()
        .to_string();
    assert_eq!(e, "x.cfg:1: heredoc EOT of encrypt is not terminated");
    let e = Layer::from_key_value(Path::new("x.cfg"), "rndsleep = soon\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("soon"), "{e}");
}

#[test]
fn our_toml_and_the_shipped_example() {
    let l = Layer::from_toml(
        Path::new("client.toml"),
        "servers = [\"https://a/feed/\", \"https://b/feed/\"]\nsite = \"S\"\nretries = 5\n\
         retry_delay_ms = 10\nclient_cert = \"/etc/c.pem\"\nclient_key = \"/etc/k.pem\"\n",
    )
    .unwrap();
    let cfg = Config::resolve(
        l,
        Origins {
            toml: true,
            ..Origins::default()
        },
    )
    .unwrap();
    assert_eq!(cfg.servers.len(), 2);
    assert_eq!(cfg.protocol, Protocol::Json);
    assert_eq!(cfg.retries, 5);
    assert_eq!(cfg.retry_delay.as_millis(), 10);
    assert_eq!(cfg.timeout.as_secs(), 300);
    assert!(cfg.gzip);

    let e = Layer::from_toml(Path::new("client.toml"), "sever = []\n").unwrap_err();
    assert!(e.to_string().contains("sever"), "{e}");

    // Every key of the shipped example, uncommented, parses.
    let example: String = pakiti_client::config::EXAMPLE_TOML
        .lines()
        .map(|l| {
            l.strip_prefix('#')
                .filter(|r| r.contains(" = "))
                .unwrap_or(l)
        })
        .collect::<Vec<_>>()
        .join("\n");
    let l = Layer::from_toml(Path::new("example"), &example).unwrap();
    assert_eq!(l.protocol.as_deref(), Some("json"));
    assert_eq!(l.retries, Some(3));
    assert_eq!(l.server_rep_stats, Some(false));
}

#[test]
fn later_layers_win() {
    let p2 = Layer::from_key_value(Path::new("p2"), PAKITI2).unwrap();
    let cli = Layer {
        tag: Some("cli-tag".into()),
        servers: Some(vec!["http://127.0.0.1:9/feed/".into()]),
        pakiti3_url: true,
        ..Layer::default()
    };
    let merged = p2.overlay(cli);
    assert_eq!(merged.tag.as_deref(), Some("cli-tag"));
    assert_eq!(
        merged.servers.as_deref().unwrap(),
        ["http://127.0.0.1:9/feed/"]
    );
    assert!(!merged.pakiti2_servers);
    // The Pakiti 2 file's CA survives.
    assert_eq!(
        merged.ca.as_deref(),
        Some(Path::new("/etc/grid-security/certificates"))
    );
    let cfg = Config::resolve(merged, Origins::default()).unwrap();
    assert_eq!(cfg.protocol, Protocol::V5);
}

#[test]
fn protocol_rule() {
    let o = |toml, p2, p3| Origins {
        toml,
        pakiti2_servers: p2,
        pakiti3_url: p3,
    };
    assert_eq!(
        choose_protocol(None, o(false, false, false), false),
        Protocol::Json
    );
    assert_eq!(
        choose_protocol(None, o(true, false, false), false),
        Protocol::Json
    );
    assert_eq!(
        choose_protocol(None, o(false, true, false), false),
        Protocol::V4
    );
    assert_eq!(
        choose_protocol(None, o(false, false, false), true),
        Protocol::V4
    );
    assert_eq!(
        choose_protocol(None, o(false, false, true), false),
        Protocol::V5
    );
    assert_eq!(
        choose_protocol(None, o(true, false, true), false),
        Protocol::Json
    );
    assert_eq!(
        choose_protocol(Some(Protocol::Json), o(false, true, true), true),
        Protocol::Json
    );
    assert_eq!(Protocol::parse("5").unwrap(), Protocol::V5);
    assert_eq!(Protocol::parse("JSON").unwrap(), Protocol::Json);
    assert!(Protocol::parse("6").is_err());
}

#[test]
fn encrypt_needs_protocol_5_and_bad_mode_fails() {
    let l = Layer {
        encrypt: Some("-----BEGIN CERTIFICATE-----\n".into()),
        protocol: Some("json".into()),
        ..Layer::default()
    };
    let e = Config::resolve(l, Origins::default()).unwrap_err();
    assert!(e.to_string().contains("protocol 5"), "{e}");
    let l = Layer {
        mode: Some("store-everything".into()),
        ..Layer::default()
    };
    assert!(Config::resolve(l, Origins::default()).is_err());
}
