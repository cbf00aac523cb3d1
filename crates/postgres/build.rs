//! Fingerprints the migrations (names and SQL) so that test support can name a migrated template database
//! after exactly the migrations this crate embeds. FNV-1a: stable across compilers, no dependency needed.

use std::fs;
use std::io;
use std::path::Path;

fn fnv1a(hash: &mut u64, bytes: &[u8]) {
    for byte in bytes {
        *hash ^= u64::from(*byte);
        *hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
}

fn main() -> io::Result<()> {
    let dir = Path::new("../../migrations");
    println!("cargo:rerun-if-changed=../../migrations");
    let mut migrations: Vec<_> = fs::read_dir(dir)?
        .collect::<io::Result<Vec<_>>>()?
        .into_iter()
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .collect();
    migrations.sort();
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    for migration in &migrations {
        let name = migration.file_name().unwrap_or_default().to_string_lossy();
        fnv1a(&mut hash, name.as_bytes());
        fnv1a(&mut hash, b"\0");
        for file in ["up.sql", "down.sql", "metadata.toml"] {
            let path = migration.join(file);
            // Watching a file that does not exist would make cargo rebuild this crate every time.
            if let Ok(content) = fs::read(&path) {
                println!("cargo:rerun-if-changed={}", path.display());
                fnv1a(&mut hash, file.as_bytes());
                fnv1a(&mut hash, &content);
                fnv1a(&mut hash, b"\0");
            }
        }
    }
    println!("cargo:rustc-env=KEYPORT_MIGRATIONS_FINGERPRINT={hash:016x}");
    Ok(())
}
