//! Run the fake OpenAI-compatible server on its own, for benchmarks and manual tests.
//!
//! Usage: agora-fake-openai [--port P] [--latency-ms L] [--capacity C] [--fault-rate F]
//!                          [--hang-rate H] [--seed S] [--retry-after VALUE]
//!                          [--batch-delay-ms D] [--timeline FILE]
//! A fault rate F splits evenly into 429s, 500s and malformed bodies; `--retry-after`
//! sends VALUE verbatim as the `Retry-After` header of every 429. `--timeline FILE`
//! writes, when the server is stopped (SIGINT or SIGTERM), one line `start_ms end_ms`
//! per answered chat completion, from the server's start: how full it was over time.

use std::time::Duration;

use agora_fake_openai::{FakeConfig, FakeServer, Faults};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut port = 8089u16;
    let mut config = FakeConfig::default();
    let mut timeline: Option<std::path::PathBuf> = None;
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--port" => port = value.parse()?,
            "--latency-ms" => config.latency = Duration::from_millis(value.parse()?),
            "--capacity" => config.capacity = value.parse()?,
            "--fault-rate" => {
                let f: f64 = value.parse()?;
                config.faults = Faults {
                    rate_limited: f / 3.0,
                    server_error: f / 3.0,
                    malformed: f / 3.0,
                    ..config.faults
                };
            }
            "--hang-rate" => config.faults.hang = value.parse()?,
            "--seed" => config.seed = value.parse()?,
            "--retry-after" => config.retry_after_header = Some(value),
            "--batch-delay-ms" => config.batch_delay = Duration::from_millis(value.parse()?),
            "--timeline" => timeline = Some(value.into()),
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let server = FakeServer::start_on(([127, 0, 0, 1], port).into(), config).await?;
        println!(
            "fake OpenAI server listening: OPENAI_BASE_URL={}",
            server.base_url()
        );
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            stopped = tokio::signal::ctrl_c() => stopped?,
            _ = terminate.recv() => {}
        }
        if let Some(path) = &timeline {
            let lines: String = server
                .stats()
                .timeline()
                .iter()
                .map(|(start, end)| {
                    format!(
                        "{:.3} {:.3}\n",
                        start.as_secs_f64() * 1e3,
                        end.as_secs_f64() * 1e3
                    )
                })
                .collect();
            std::fs::write(path, lines).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
