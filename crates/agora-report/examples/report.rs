//! Write the report of an experiment directory: `cargo run -p agora-report --example
//! report -- DIR` writes `DIR/report.html` and prints its path.

fn main() {
    let Some(dir) = std::env::args_os().nth(1) else {
        eprintln!("usage: report DIR");
        std::process::exit(2);
    };
    match agora_report::write_report(std::path::Path::new(&dir)) {
        Ok(path) => println!("{}", path.display()),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
