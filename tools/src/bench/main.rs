//! `northstar-bench`: the macrobenchmark runner and regression gate of NorthstarDB.
//!
//! `list` the benchmarks, `run` them into JSON result files, `compare` two result sets,
//! `gate` a set against a baseline (non-zero exit on a critical regression),
//! `capture-baseline` to store a named baseline, `report` a set's summary, and `plot`
//! it as a page of charts. The work is done by
//! `northstar_tools::bench`; this binary installs the counting allocator the
//! allocation figures need and maps failures to exit codes.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use northstar_tools::bench::baseline::{self, CaptureArgs};
use northstar_tools::bench::compare::{self, CompareArgs};
use northstar_tools::bench::counters::CountingAllocator;
use northstar_tools::bench::error::{BenchError, Fallible};
use northstar_tools::bench::gate::{self, GateArgs};
use northstar_tools::bench::plot::{self, PlotArgs};
use northstar_tools::bench::report::{self, ReportArgs};
use northstar_tools::bench::runner::{self, RunArgs};
use northstar_tools::bench::suite;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Text for `--help` that lists the exit codes.
const EXIT_CODES_HELP: &str = "\
Exit codes:
  0   success; for gate, no critical benchmark regressed
  1   gate: a critical benchmark regressed beyond the thresholds, or is missing from NEW_DIR
  2   a benchmark failed, a result did not match benches/results.schema.json, or a
      result set could not be read
  64  the command line does not parse";

/// Macrobenchmarks of NorthstarDB, and the gate that compares their results.
#[derive(Debug, Parser)]
#[command(name = "northstar-bench", version, after_help = EXIT_CODES_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the benchmarks by suite; critical ones (guarded by gate) are marked '*'.
    List(ListArgs),
    /// Run benchmarks; write one JSON result per repeat, <bench>_rNNN.json.
    Run(RunArgs),
    /// Print a verdict per benchmark: improved, regressed, unchanged, unstable, missing.
    Compare(CompareArgs),
    /// Exit 1 when a critical benchmark regressed from BASE_DIR to NEW_DIR.
    Gate(GateArgs),
    /// Run and store the results as benches/baselines/NAME/ (NAME: the machine's profile).
    CaptureBaseline(CaptureArgs),
    /// Summarize a result set: medians, spread, figures, pass/fail against a baseline.
    Report(ReportArgs),
    /// Draw a page of charts of a result set as SVG (DIR/charts.svg by default).
    Plot(PlotArgs),
}

#[derive(Debug, Args)]
struct ListArgs {
    /// List only benchmarks whose name contains this text (repeatable; any match).
    #[arg(long = "filter", value_name = "SUBSTR")]
    filters: Vec<String>,
}

fn run(command: &Command) -> Fallible<u8> {
    let mut stdout = std::io::stdout().lock();
    let print = |stdout: &mut dyn Write, text: &str| {
        stdout
            .write_all(text.as_bytes())
            .map_err(|e| BenchError::new(format!("cannot write to standard output: {e}")))
    };
    match command {
        Command::List(args) => {
            print(
                &mut stdout,
                &suite::listing(&suite::matching(&args.filters)),
            )?;
            Ok(0)
        }
        Command::Run(args) => {
            let files = runner::run(&args.settings, &args.out, &mut stdout)?;
            eprintln!(
                "wrote {} result files to {}",
                files.len(),
                args.out.display()
            );
            Ok(0)
        }
        Command::Compare(args) => {
            let (table, _) = compare::run(args)?;
            print(&mut stdout, &table)?;
            Ok(0)
        }
        Command::Gate(args) => {
            let decision = gate::run(args)?;
            print(&mut stdout, &decision.report)?;
            Ok(decision.exit_code())
        }
        Command::CaptureBaseline(args) => {
            let (profile, dir) = baseline::capture(args, &mut stdout)?;
            eprintln!("stored baseline {profile:?} in {}", dir.display());
            Ok(0)
        }
        Command::Report(args) => {
            print(&mut stdout, &report::run(args)?)?;
            Ok(0)
        }
        Command::Plot(args) => {
            let out = plot::run(args)?;
            eprintln!("wrote {}", out.display());
            Ok(0)
        }
    }
}

fn main() -> ExitCode {
    let cli = match northstar_tools::failure::parse_args::<Cli>() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    match run(&cli.command) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("northstar-bench: {error}");
            ExitCode::from(error.code)
        }
    }
}
