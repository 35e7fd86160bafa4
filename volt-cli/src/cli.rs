//! Argument definitions (clap derive). Kept apart from behaviour so completions and man pages
//! are generated from exactly what the binary parses.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Output formats for `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// JSON for programs.
    Json,
    /// YAML.
    Yaml,
}

/// Colour modes for `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    /// Colour on a terminal.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// Volt manages a Linux host's workloads and the content-addressed storage beneath them.
#[derive(Debug, Parser)]
#[command(
    name = "volt",
    version,
    about = "Containers, VMs, images and content-addressed storage on one Linux host",
    long_about = "Volt manages the workloads of a Linux host and the storage they run from.\n\n\
        Paths default to /etc/volt, /var/lib/volt, /run/volt, /var/cache/volt and /var/log/volt; \
        set VOLT_ROOT=DIR to put all of them under DIR (handy for trying Volt out).\n\n\
        Environment: VOLT_CONFIG (config file, default /etc/volt/config.yaml), VOLT_OUTPUT, \
        VOLT_COLOR, VOLT_DEBUG, VOLT_ROOT.",
    after_help = "Examples:\n  volt cas build /srv/rootfs --ref images/base\n  volt cas status\n  volt -o json cas verify",
    propagate_version = true
)]
pub struct Cli {
    /// Output format [env: VOLT_OUTPUT] [default: table]
    #[arg(short, long, global = true, value_enum)]
    pub output: Option<Format>,
    /// Print only identifiers (digests, names); no progress, notices or warnings
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// When to use colour [env: VOLT_COLOR] [default: auto]
    #[arg(long, global = true, value_enum)]
    pub color: Option<Color>,
    /// Log debug detail to stderr [env: VOLT_DEBUG]
    #[arg(long, global = true)]
    pub debug: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Stellarium, the content-addressed store (objects, trees, refs)
    #[command(subcommand)]
    Cas(CasCommand),
    /// Print a shell completion script
    #[command(after_help = "Example:\n  volt completion bash > /etc/bash_completion.d/volt")]
    Completion {
        /// Shell to generate for
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write man pages (volt.1, volt-cas.1, …) into a directory
    #[command(after_help = "Example:\n  volt man /usr/local/share/man/man1")]
    Man {
        /// Directory to write into (created if missing)
        dir: PathBuf,
    },
}

/// `volt cas …`
#[derive(Debug, Subcommand)]
pub enum CasCommand {
    /// Show object, chunk and ref counts, bytes stored and the dedup ratio
    #[command(after_help = "Example:\n  volt cas status")]
    Status,
    /// Store a directory as a tree (files, dirs, links, devices, xattrs, owners, mtimes)
    #[command(after_help = "Examples:\n  volt cas build /srv/rootfs --ref images/base\n  \
        volt -q cas build ./site          # prints only the tree digest")]
    Build {
        /// Directory to store
        dir: PathBuf,
        /// Name the tree (otherwise it is unreferenced and gc removes it)
        #[arg(long = "ref", value_name = "NAME")]
        reference: Option<String>,
    },
    /// Materialise a tree into a new or empty directory
    #[command(after_help = "Examples:\n  volt cas checkout images/base /srv/base\n  \
        volt cas checkout images/base /tmp/private --mode copy\n\n\
        hardlink checkouts share inodes with the store: treat them as read-only.")]
    Checkout {
        /// Ref name or tree digest
        target: String,
        /// Destination (must not exist, or be empty)
        dir: PathBuf,
        /// How file content gets there
        #[arg(long, value_enum, default_value_t = Mode::Hardlink)]
        mode: Mode,
    },
    /// Re-hash objects; report corrupt or missing ones and the refs they break (exit 1 if any)
    #[command(
        after_help = "Examples:\n  volt cas verify\n  volt cas verify images/base\n  volt cas verify blake3:3f…"
    )]
    Verify(VerifyArgs),
    /// Remove objects no ref (and no running writer) reaches
    #[command(after_help = "Examples:\n  volt cas gc --dry-run\n  volt cas gc")]
    Gc {
        /// Only report what would be removed
        #[arg(long)]
        dry_run: bool,
    },
    /// Logical versus stored bytes, and the most-shared objects
    #[command(after_help = "Example:\n  volt cas dedup --top 5")]
    Dedup {
        /// How many shared objects to list
        #[arg(long, default_value_t = 10)]
        top: usize,
    },
    /// List, set or delete refs
    #[command(after_help = "Examples:\n  volt cas refs\n  volt cas refs list images/\n  \
        volt cas refs set images/keep blake3:3f…\n  volt cas refs delete images/old")]
    Refs {
        #[command(subcommand)]
        action: Option<RefsCommand>,
    },
    /// Store one file (or - for standard input), streamed
    #[command(after_help = "Examples:\n  volt cas put disk.qcow2 --ref vm/disk\n  \
        volt cas put layer.tar.gz --also sha256\n  tar c dir | volt cas put -")]
    Put {
        /// File to store, or - for standard input
        file: PathBuf,
        /// Name the object
        #[arg(long = "ref", value_name = "NAME")]
        reference: Option<String>,
        /// Also record an OCI digest alias (sha256 or sha512)
        #[arg(long, value_name = "ALGO", value_parser = ["sha256", "sha512"])]
        also: Vec<String>,
    },
    /// Write an object's bytes to a file (or standard output)
    #[command(after_help = "Examples:\n  volt cas get vm/disk disk.qcow2\n  volt cas get sha256:ab12… > layer.tar.gz")]
    Get {
        /// Ref name or digest
        target: String,
        /// Output file (default: standard output)
        dest: Option<PathBuf>,
    },
    /// Print an object's bytes to standard output
    #[command(after_help = "Example:\n  volt cas cat blake3:3f… | head")]
    Cat {
        /// Ref name or digest
        target: String,
    },
    /// Describe an object (size, chunks, tree or not, aliases)
    #[command(after_help = "Example:\n  volt cas stat images/base")]
    Stat {
        /// Ref name or digest
        target: String,
    },
}

/// Arguments of `volt cas verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Ref name or digest to verify (with everything it reaches)
    #[arg(conflicts_with = "all")]
    pub target: Option<String>,
    /// Verify every object in the store (the default without TARGET)
    #[arg(long)]
    pub all: bool,
}

/// `volt cas refs …`
#[derive(Debug, Subcommand)]
pub enum RefsCommand {
    /// List refs, optionally under a prefix
    List {
        /// Only refs starting with this
        prefix: Option<String>,
    },
    /// Point a ref at an object
    Set {
        /// Ref name (e.g. images/base)
        name: String,
        /// Digest or another ref
        target: String,
    },
    /// Remove a ref (objects stay until gc)
    Delete {
        /// Ref name
        name: String,
    },
}

/// Checkout modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Hardlink files to store inodes (fast; read-only use)
    Hardlink,
    /// Clone extents where the filesystem can, else copy
    Reflink,
    /// Private copies
    Copy,
}
