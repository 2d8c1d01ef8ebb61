//! The command line, run as a user would: a real binary on a real database.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test set-up and helpers: a failure there fails the test, as it should"
)]

use std::process::Command;

fn repairnet(args: &[&str], db: &str) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_repairnet"))
        .args(args)
        .env("DATABASE_URL", db)
        .output()
        .expect("the binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn temp_db(name: &str) -> (std::path::PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("repairnet-cli-{}-{}", name, std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("cli.db").display());
    (dir, url)
}

#[test]
fn import_export_nearest_geocode_and_tokens() {
    let (dir, db) = temp_db("main");
    let (ok, _, err) = repairnet(&["migrate"], &db);
    assert!(ok, "{err}");

    // A file with one bad row is refused whole; nothing is written.
    let csv = dir.join("stations.csv");
    std::fs::write(
        &csv,
        "id,name,adcode,lat,lon,services,products,onsite_radius_km\n\
         C1,成都站,510107,30.57,104.06,onsite;carry_in,notebook,30\n\
         C2,坏站,510107,95,104.06,carry_in,notebook,\n",
    )
    .unwrap();
    let (ok, _, err) = repairnet(&["import", csv.to_str().unwrap()], &db);
    assert!(!ok);
    assert!(err.contains("row 2"), "{err}");
    let (_, out, _) = repairnet(&["export"], &db);
    assert_eq!(out.lines().count(), 1, "only the header: {out}");

    // --skip-invalid imports the good row.
    let (ok, _, err) = repairnet(&["import", csv.to_str().unwrap(), "--skip-invalid"], &db);
    assert!(ok, "{err}");
    let (_, out, _) = repairnet(&["export", "--format", "csv"], &db);
    assert!(out.contains("C1,成都站"), "{out}");
    let (_, out, _) = repairnet(&["export", "--format", "geojson"], &db);
    let fc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(fc["features"].as_array().unwrap().len(), 1);

    let (ok, out, err) = repairnet(
        &["nearest", "--lat", "30.6", "--lon", "104.0", "-k", "1"],
        &db,
    );
    assert!(ok, "{err}");
    assert!(out.contains("C1") && out.contains("成都站"), "{out}");
    let (ok, _, err) = repairnet(&["nearest", "--lat", "300", "--lon", "104.0"], &db);
    assert!(!ok);
    assert!(err.contains("lat"), "{err}");
    let (ok, out, err) = repairnet(&["nearest", "--address", "成都锦江"], &db);
    assert!(ok, "{err}");
    assert!(out.contains("锦江区") && out.contains("C1"), "{out}");

    let (ok, out, _) = repairnet(&["geocode", "凉山西昌"], &db);
    assert!(ok);
    let g: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(g["matches"][0]["adcode"], "513401");
    let (ok, _, _) = repairnet(&["geocode", "xyzzy"], &db);
    assert!(!ok, "no match is a failure exit");

    let (ok, token, err) = repairnet(&["token", "create", "--role", "dispatcher"], &db);
    assert!(ok, "{err}");
    assert!(token.trim().starts_with("rn_") && token.trim().len() == 67);
    let (ok, _, err) = repairnet(&["token", "create", "--role", "king"], &db);
    assert!(!ok);
    assert!(err.contains("unknown value"), "{err}");
    // A failed command says so in one line, never with a backtrace.
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.starts_with("repairnet: "), "{err}");

    // A reader that stops early (`export | head -1`) is no error.
    let mut child = Command::new(env!("CARGO_BIN_EXE_repairnet"))
        .args(["export"])
        .env("DATABASE_URL", &db)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("panicked") && !err.contains("Broken pipe"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn demo_data_command_reproduces_the_shipped_files() {
    let (dir, db) = temp_db("demo");
    let out = dir.join("demo");
    let (ok, _, err) = repairnet(&["demo-data", "--out", out.to_str().unwrap()], &db);
    assert!(ok, "{err}");
    for f in ["stations.csv", "technicians.csv"] {
        let made = std::fs::read_to_string(out.join(f)).unwrap();
        let shipped = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("data/demo")
                .join(f),
        )
        .unwrap();
        assert!(made == shipped, "{f} differs from the committed demo data");
    }
    let _ = std::fs::remove_dir_all(dir);
}
