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
    /// OCI images: import, pull, push, export, list, inspect, tag, remove
    #[command(subcommand)]
    Image(ImageCommand),
    /// The built-in OCI registry (serve, tokens)
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// Containers on systemd-nspawn: create, run, start, stop, exec, logs, update, delete
    #[command(subcommand, visible_alias = "con")]
    Container(ContainerCommand),
    /// List the workloads of every kind (containers and VMs) together
    #[command(after_help = "Examples:\n  volt ps\n  volt ps -o json")]
    Ps,
    /// Virtual machines on QEMU (KVM, or TCG where KVM cannot run guests), driven over QMP
    #[command(subcommand)]
    Vm(VmCommand),
    /// Guest kernels by profile (server, desktop, rt, minimal, dev) or name
    #[command(subcommand)]
    Kernel(KernelCommand),
    /// Tune running workloads (CPU pinning of VM vCPUs)
    #[command(subcommand)]
    Tune(TuneCommand),
    /// Named volumes that outlive containers
    #[command(subcommand)]
    Volume(VolumeCommand),
    /// Networks: bridges with addresses, port forwards, firewall and internal DNS
    #[command(subcommand, visible_alias = "net")]
    Network(NetworkCommand),
    /// CPU, memory, I/O and tasks of running containers, refreshing (once with --output json)
    #[command(after_help = "Examples:\n  volt top\n  volt top --interval 2\n  volt -o json top")]
    Top {
        /// Seconds between refreshes (and the CPU sampling window)
        #[arg(long, default_value_t = 1.0)]
        interval: f64,
        /// Refresh this many times, then exit (default: until interrupted)
        #[arg(long, short = 'n')]
        iterations: Option<u64>,
    },
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

/// Registry credentials and transport, shared by pull and push.
#[derive(Debug, Args)]
pub struct RemoteArgs {
    /// Log in as USER:PASSWORD (for Volt's registry: any user, a token as the password)
    #[arg(long, value_name = "USER:PASSWORD", env = "VOLT_REGISTRY_CREDS", hide_env_values = true)]
    pub creds: Option<String>,
    /// Send this bearer token as is (e.g. from `volt registry token create`)
    #[arg(long, value_name = "TOKEN", env = "VOLT_REGISTRY_TOKEN", hide_env_values = true, conflicts_with = "creds")]
    pub token: Option<String>,
    /// Allow plain HTTP to a registry that is not on loopback (loopback registries always may)
    #[arg(long)]
    pub insecure: bool,
    /// Trust this PEM CA certificate too (a registry with a private CA)
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Vec<PathBuf>,
}

/// `volt image …`
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Import an image from an OCI layout (dir or tar), a docker-archive tar, or a root filesystem (dir or tarball)
    #[command(after_help = "The format is recognised from the content. Layers are checked before anything is kept: \
        absolute paths, '..', links leaving the root, writes through symlinks and decompression bombs are refused.\n\n\
        Examples:\n  volt image import ./busybox-oci --name busybox:1.36\n  \
        volt image import debian.tar --name debian:12      # docker save output\n  \
        volt image import ./rootfs --name base             # a plain directory")]
    Import {
        /// Path to import
        path: PathBuf,
        /// Local name, NAME[:TAG] (tag defaults to latest)
        #[arg(long, short)]
        name: String,
    },
    /// Pull an image from an OCI registry
    #[command(
        after_help = "Blobs already in the store are not downloaded. Plain HTTP is used for loopback registries \
        only, unless --insecure.\n\nExamples:\n  volt image pull 127.0.0.1:5000/busybox:1.36\n  \
        volt image pull registry.example.com/team/app:v2 --creds ci:$TOKEN --name app:v2"
    )]
    Pull {
        /// Reference: [REGISTRY/]REPOSITORY[:TAG][@DIGEST]
        reference: String,
        /// Local name (default: the reference without docker.io/ and library/)
        #[arg(long, short)]
        name: Option<String>,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Push a local image to an OCI registry
    #[command(after_help = "Blobs the registry already has are not uploaded.\n\nExamples:\n  \
        volt image push busybox:1.36 127.0.0.1:5000/busybox:1.36 --token $(volt -q registry token create --repo busybox --actions pull,push)")]
    Push {
        /// Local image, NAME[:TAG]
        image: String,
        /// Destination reference (default: the image's own name)
        destination: Option<String>,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// List local images
    #[command(alias = "ls")]
    List,
    /// Show an image's config, layers and tree
    Inspect {
        /// Image, NAME[:TAG]
        image: String,
    },
    /// Give an image another name
    Tag {
        /// Existing image, NAME[:TAG]
        source: String,
        /// New name, NAME[:TAG]
        target: String,
    },
    /// Remove an image name (content goes at the next `volt cas gc` if unused)
    #[command(alias = "remove")]
    Rm {
        /// Image(s), NAME[:TAG]
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// Write an image as an OCI image layout: a directory, or a tar file if DEST ends in .tar
    #[command(after_help = "Examples:\n  volt image export busybox:1.36 ./busybox-oci\n  \
        skopeo copy oci:./busybox-oci:1.36 docker://127.0.0.1:5000/busybox:1.36")]
    Export {
        /// Image, NAME[:TAG]
        image: String,
        /// Destination directory (new or empty) or .tar file
        dest: PathBuf,
    },
}

/// `volt registry …`
#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Serve the OCI Distribution API from the store
    #[command(after_help = "Binds 127.0.0.1 unless --bind says otherwise. SIGINT/SIGTERM stop accepting connections \
        and let requests in flight finish.\n\nExamples:\n  volt registry serve --port 5000\n  \
        volt registry serve --bind 0.0.0.0 --port 443 --tls-cert cert.pem --tls-key key.pem")]
    Serve {
        /// Port to listen on
        #[arg(long, short, default_value_t = 5000)]
        port: u16,
        /// Address to listen on
        #[arg(long, default_value = "127.0.0.1")]
        bind: std::net::IpAddr,
        /// PEM certificate chain (serve HTTPS; needs --tls-key)
        #[arg(long, requires = "tls_key", value_name = "FILE")]
        tls_cert: Option<PathBuf>,
        /// PEM private key
        #[arg(long, requires = "tls_cert", value_name = "FILE")]
        tls_key: Option<PathBuf>,
    },
    /// Bearer tokens for the registry
    #[command(subcommand)]
    Token(TokenCommand),
}

/// `volt registry token …`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Print a signed token scoped to repositories and actions
    #[command(after_help = "Use it as a bearer token (skopeo --registry-token, volt image push --token) or as the \
        password of a login with any user name (podman login, skopeo --creds, oras).\n\nExamples:\n  \
        volt registry token create --repo busybox --actions pull,push --ttl 1h\n  \
        volt registry token create --repo 'team/*' --actions pull --ttl 7d")]
    Create {
        /// Repository, NAME/* (everything under NAME/) or * (repeatable)
        #[arg(long = "repo", required = true)]
        repos: Vec<String>,
        /// Comma-separated: pull, push, delete, or *
        #[arg(long, default_value = "pull")]
        actions: String,
        /// Lifetime: 90s, 15m, 1h, 7d
        #[arg(long, default_value = "1h")]
        ttl: String,
        /// Who the token is for (recorded in the token)
        #[arg(long, default_value = "cli")]
        subject: String,
    },
}

/// What a container runs and with which limits (`create` and `run`).
#[derive(Debug, Args)]
pub struct SpecArgs {
    /// Image to run (REPOSITORY[:TAG], see `volt image list`)
    #[arg(long, value_name = "IMAGE")]
    pub image: String,
    /// Memory limit (512M, 1G; bytes without a suffix); over it the kernel OOM-kills the workload
    #[arg(long, value_name = "SIZE")]
    pub memory: Option<String>,
    /// CPU quota in percent of one CPU (50 = half a CPU, 200 = two CPUs)
    #[arg(long, value_name = "PERCENT")]
    pub cpu: Option<u32>,
    /// Most processes and threads the container may have
    #[arg(long, value_name = "N")]
    pub pids: Option<u32>,
    /// Environment variable KEY=VALUE (repeatable), after the image's
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Mount VOLUME:/path or /host/dir:/path, with :ro for read-only (repeatable); a volume
    /// name that does not exist is created
    #[arg(short, long = "volume", value_name = "SRC:/PATH[:ro]")]
    pub volume: Vec<String>,
    /// Working directory inside the container (default: the image's)
    #[arg(long)]
    pub workdir: Option<String>,
    /// User to run as, UID[:GID] or a name known in the image (default: the image's)
    #[arg(long)]
    pub user: Option<String>,
    /// Hostname (default: the container name)
    #[arg(long)]
    pub hostname: Option<String>,
    /// Restart policy: no, on-failure (non-zero exit or signal) or always
    #[arg(long, default_value = "no", value_name = "POLICY")]
    pub restart: String,
    /// Join a network (repeatable; eth0, eth1, … in order). Without it the container shares the
    /// host's network. `volt0` is created on first use
    #[arg(long = "network", visible_alias = "net", value_name = "NETWORK")]
    pub network: Vec<String>,
    /// Forward a host port to the container (on its first network), reachable on the host's
    /// addresses, 127.0.0.1 included (repeatable)
    #[arg(short = 'p', long = "publish", value_name = "HOSTPORT:PORT[/tcp|udp]")]
    pub publish: Vec<String>,
    /// Command and arguments (default: the image's entrypoint and cmd)
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// `volt container …`
#[derive(Debug, Subcommand)]
pub enum ContainerCommand {
    /// Create a stopped container from an image
    #[command(after_help = "Examples:\n  volt container create web --image nginx:1.27 --memory 1G --cpu 200\n  \
        volt container create job --image busybox -e MODE=batch -v data:/data -- /bin/sh -c 'run-job'")]
    Create {
        /// Container name: 1-63 of a-z, 0-9, '-' and '_'
        name: String,
        #[command(flatten)]
        spec: SpecArgs,
    },
    /// Create and start a container; attached, print its output and exit with its status
    #[command(after_help = "Examples:\n  volt container run --rm --image busybox -- echo hello\n  \
        volt container run web -d --image nginx:1.27 --restart always\n\n\
        Attached, the exit status is the workload's (128+N after signal N); Volt's own failures keep \
        Volt's exit codes (see docs/errors.md). SIGINT/SIGTERM are passed on to the workload.")]
    Run {
        /// Container name (default: a generated adjective_scientist name)
        name: Option<String>,
        /// Delete the container when it ends
        #[arg(long)]
        rm: bool,
        /// Start it and return; do not follow its output
        #[arg(short, long)]
        detach: bool,
        #[command(flatten)]
        spec: SpecArgs,
    },
    /// Start stopped or failed containers
    #[command(after_help = "Example:\n  volt container start web")]
    Start {
        /// Container names
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Stop running containers: SIGTERM, then SIGKILL after the timeout
    #[command(after_help = "Example:\n  volt container stop web --time 30")]
    Stop {
        /// Container names
        #[arg(required = true)]
        names: Vec<String>,
        /// Seconds to wait before killing [default: containers.stop_timeout, 10]
        #[arg(short, long)]
        time: Option<u64>,
    },
    /// Stop (if running) and start containers
    #[command(after_help = "Example:\n  volt container restart web")]
    Restart {
        /// Container names
        #[arg(required = true)]
        names: Vec<String>,
        /// Seconds to wait before killing
        #[arg(short, long)]
        time: Option<u64>,
    },
    /// Send a signal to a container's workload
    #[command(after_help = "Examples:\n  volt container kill web\n  volt container kill web --signal HUP")]
    Kill {
        /// Container name
        name: String,
        /// Signal name (TERM, HUP, SIGUSR1) or number
        #[arg(short, long, default_value = "KILL")]
        signal: String,
    },
    /// Delete containers (their root filesystem and unit); named volumes stay
    #[command(
        visible_alias = "rm",
        after_help = "Examples:\n  volt container delete web\n  \
        volt container delete web --force   # stops it first"
    )]
    Delete {
        /// Container names
        #[arg(required = true)]
        names: Vec<String>,
        /// Stop running containers first instead of refusing (exit 9)
        #[arg(short, long)]
        force: bool,
    },
    /// List containers with status, image, command and limits
    #[command(visible_alias = "ls", after_help = "Example:\n  volt container list")]
    List,
    /// Show a container's configuration and state
    #[command(after_help = "Example:\n  volt -o json container inspect web")]
    Inspect {
        /// Container name
        name: String,
    },
    /// Run a command inside a running container
    #[command(after_help = "Examples:\n  volt container exec web -- cat /etc/hostname\n  \
        volt container exec -it web -- /bin/sh\n\nThe exit status is the command's.")]
    Exec {
        /// Container name
        name: String,
        /// Keep standard input open (interactive)
        #[arg(short, long)]
        interactive: bool,
        /// The command gets this terminal (use with -i for a shell)
        #[arg(short, long)]
        tty: bool,
        /// Command and arguments
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<String>,
    },
    /// Print a container's output (stdout and stderr, in order)
    #[command(after_help = "Examples:\n  volt container logs web --tail 20\n  volt container logs web -f\n  \
        volt container logs web --since 10m --timestamps")]
    Logs {
        /// Container name
        name: String,
        /// Keep printing new output until the container stops
        #[arg(short, long)]
        follow: bool,
        /// Only the last N lines
        #[arg(long, value_name = "N")]
        tail: Option<usize>,
        /// Only lines since a time: RFC 3339 (2026-01-02T15:04:05Z) or an age (30s, 10m, 2h, 1d)
        #[arg(long, value_name = "WHEN")]
        since: Option<String>,
        /// Prefix each line with its time
        #[arg(long)]
        timestamps: bool,
    },
    /// Change limits; a running container's cgroup is updated at once
    #[command(after_help = "Example:\n  volt container update web --memory 2G --cpu 150 --pids 512")]
    Update {
        /// Container name
        name: String,
        /// New memory limit
        #[arg(long, value_name = "SIZE")]
        memory: Option<String>,
        /// New CPU quota (percent of one CPU)
        #[arg(long, value_name = "PERCENT")]
        cpu: Option<u32>,
        /// New task limit
        #[arg(long, value_name = "N")]
        pids: Option<u32>,
    },
}

/// `volt volume …`
#[derive(Debug, Subcommand)]
pub enum VolumeCommand {
    /// Create a named volume
    #[command(
        after_help = "Example:\n  volt volume create data\n  volt container run --image busybox -v data:/data -- ls /data"
    )]
    Create {
        /// Volume name: 1-63 of a-z, 0-9, '-' and '_'
        name: String,
    },
    /// List volumes and the containers using them
    #[command(visible_alias = "ls", after_help = "Example:\n  volt volume list")]
    List,
    /// Show a volume
    #[command(after_help = "Example:\n  volt volume inspect data")]
    Inspect {
        /// Volume name
        name: String,
    },
    /// Remove a volume and its data (refused while a container uses it)
    #[command(visible_alias = "rm", after_help = "Example:\n  volt volume rm data")]
    Remove {
        /// Volume names
        #[arg(required = true)]
        names: Vec<String>,
    },
}

/// `volt network …`
#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// Create a network: a bridge named after it with the gateway address, NAT, and a DNS
    /// server answering its workloads' names
    #[command(after_help = "Examples:\n  volt network create front\n  \
        volt network create back --subnet 10.89.5.0/24 --internal\n  \
        volt network create edge --subnet 10.90.0.0/24 --gateway 10.90.0.254 --dns-upstream 9.9.9.9\n\n\
        Without --subnet the first /24 of networks.subnet_pool (10.88.0.0/16) that overlaps neither \
        another network nor the host's addresses is used.")]
    Create {
        /// Network name: 1-15 of a-z, 0-9, '-' and '_' (also the bridge's name)
        name: String,
        /// IPv4 subnet in CIDR form
        #[arg(long, value_name = "CIDR")]
        subnet: Option<String>,
        /// Gateway address, the bridge's (default: the subnet's first address)
        #[arg(long, value_name = "IP")]
        gateway: Option<String>,
        /// No way out: workloads reach each other and their DNS server, nothing else
        #[arg(long)]
        internal: bool,
        /// Mark the network for multi-host (mesh) use; see docs/networking.md
        #[arg(long)]
        mesh: bool,
        /// Forward names that are not workloads to this DNS server (repeatable; default:
        /// networks.dns_upstreams, none: such names are refused)
        #[arg(long = "dns-upstream", value_name = "IP[:PORT]")]
        dns_upstream: Vec<String>,
    },
    /// List networks
    #[command(visible_alias = "ls", after_help = "Example:\n  volt network list")]
    List,
    /// Show a network with its workloads and addresses
    #[command(after_help = "Example:\n  volt network inspect front")]
    Inspect {
        /// Network name
        name: String,
    },
    /// Delete networks (refused while a workload is on one)
    #[command(visible_alias = "rm", after_help = "Example:\n  volt network rm front")]
    Delete {
        /// Network names
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Put a container on a network (at once if it runs)
    #[command(after_help = "Example:\n  volt network connect back api")]
    Connect {
        /// Network name
        network: String,
        /// Container name
        container: String,
    },
    /// Take a container off a network
    #[command(after_help = "Example:\n  volt network disconnect back api")]
    Disconnect {
        /// Network name
        network: String,
        /// Container name
        container: String,
    },
    /// Firewall between networks and workloads (different networks are denied by default)
    #[command(subcommand)]
    Firewall(FirewallCommand),
}

/// `volt network firewall …`
#[derive(Debug, Subcommand)]
pub enum FirewallCommand {
    /// Allow traffic from a network or workload to another
    #[command(after_help = "Examples:\n  volt network firewall allow front back\n  \
        volt network firewall allow api db --port 5432/tcp\n\n\
        FROM and TO are network names or workload names (a workload: its addresses on all its networks).")]
    Allow {
        /// Source network or workload
        from: String,
        /// Destination network or workload
        to: String,
        /// Only this destination port
        #[arg(long, value_name = "PORT[/tcp|udp]")]
        port: Option<String>,
    },
    /// Remove an allowance (the default deny applies again)
    #[command(after_help = "Example:\n  volt network firewall deny front back")]
    Deny {
        /// Source network or workload
        from: String,
        /// Destination network or workload
        to: String,
        /// The port the allowance was given for
        #[arg(long, value_name = "PORT[/tcp|udp]")]
        port: Option<String>,
    },
    /// List allowances
    #[command(visible_alias = "ls", after_help = "Example:\n  volt network firewall list")]
    List,
    /// Re-apply nftables table 'volt' from the stored state
    #[command(after_help = "Example:\n  volt network firewall sync")]
    Sync,
}

/// `volt vm …`
// Parsed once per process: the size of the create arguments does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum VmCommand {
    /// Create a stopped VM: a qcow2 overlay on a base disk kept in the store, a kernel, networks
    #[command(after_help = "Examples:\n  volt vm create web --disk ./debian.qcow2 --memory 1G --network volt0\n  \
        volt vm create api --image vmdisk:1 --kernel server --cpus 2 -p 8080:80\n  \
        volt vm create tiny --kernel minimal --memory 128M --machine microvm\n\n\
        --image takes a Volt image that carries its disk at /disk/NAME.qcow2; --disk imports a qcow2 \
        file into the store. VMs made from the same base share it read-only; each writes to its \
        own overlay at /var/lib/volt/vms/NAME/disk.qcow2. Without either, the disk is blank.")]
    Create(VmCreateArgs),
    /// Start a VM (its supervisor starts QEMU and follows its QMP events)
    #[command(after_help = "Example:\n  volt vm start web")]
    Start {
        /// VM names
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Stop: press the ACPI power button, wait for the guest, then quit QEMU
    #[command(after_help = "Examples:\n  volt vm stop web\n  volt vm stop web --time 5")]
    Stop {
        /// VM names
        #[arg(required = true)]
        names: Vec<String>,
        /// Seconds to wait for the guest to power off before quitting [default: vms.stop_timeout, 30]
        #[arg(short, long, value_name = "SECONDS")]
        time: Option<u64>,
    },
    /// Send a signal to QEMU (default SIGKILL: recorded failed, `qemu killed by SIGKILL`; TERM
    /// makes QEMU shut down by itself)
    #[command(after_help = "Example:\n  volt vm kill web")]
    Kill {
        /// VM name
        name: String,
        /// Signal name or number
        #[arg(short, long, default_value = "KILL")]
        signal: String,
    },
    /// Pause the vCPUs (QMP stop)
    Pause {
        /// VM name
        name: String,
    },
    /// Resume paused vCPUs (QMP cont)
    Resume {
        /// VM name
        name: String,
    },
    /// Stop (if running) and start
    Restart {
        /// VM name
        name: String,
        /// Seconds to wait for the guest to power off
        #[arg(short, long, value_name = "SECONDS")]
        time: Option<u64>,
    },
    /// Delete VMs: disk, snapshots, addresses, forwards (running ones need --force)
    #[command(visible_alias = "rm", after_help = "Example:\n  volt vm delete web --force")]
    Delete {
        /// VM names
        #[arg(required = true)]
        names: Vec<String>,
        /// Kill running VMs first
        #[arg(short, long)]
        force: bool,
    },
    /// List VMs
    #[command(visible_alias = "ls")]
    List,
    /// Show a VM: configuration, state, accelerator, endpoints, vCPU pinning, snapshots
    Inspect {
        /// VM name
        name: String,
    },
    /// Attach to the serial console (Ctrl-] detaches; without a terminal, stdin is sent and
    /// the output printed until it goes quiet)
    #[command(after_help = "Examples:\n  volt vm console web\n  echo 'uname -a' | volt vm console web")]
    Console {
        /// VM name
        name: String,
    },
    /// Print the serial console log
    #[command(after_help = "Example:\n  volt vm logs web --tail 50")]
    Logs {
        /// VM name
        name: String,
        /// Only the last N lines
        #[arg(long, value_name = "N")]
        tail: Option<usize>,
    },
    /// Disk snapshots: create (a running VM is paused for the copy), list, restore (stopped), delete
    #[command(subcommand)]
    Snapshot(SnapshotCommand),
}

/// `volt vm create` arguments.
#[derive(Debug, Args)]
pub struct VmCreateArgs {
    /// VM name (lower-case letters, digits, - and _)
    pub name: String,
    /// A Volt image carrying a qcow2 disk at /disk/NAME.qcow2
    #[arg(long, conflicts_with = "disk")]
    pub image: Option<String>,
    /// A qcow2 file to import into the store as the base disk
    #[arg(long, value_name = "FILE")]
    pub disk: Option<PathBuf>,
    /// Kernel profile (server, desktop, rt, minimal, dev) or a name from `volt kernel import`
    /// [default: vms.default_kernel, server]
    #[arg(long, value_name = "PROFILE|NAME")]
    pub kernel: Option<String>,
    /// An initramfs to use instead of the kernel's own
    #[arg(long, value_name = "FILE")]
    pub initrd: Option<PathBuf>,
    /// Extra kernel command-line arguments
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
    pub cmdline: Option<String>,
    /// vCPUs [default: 1]
    #[arg(long)]
    pub cpus: Option<u32>,
    /// Memory, e.g. 512M or 2G [default: 512M]
    #[arg(long, short = 'm')]
    pub memory: Option<String>,
    /// Disk size, e.g. 10G (at least the base image's) [default: 10G]
    #[arg(long, value_name = "SIZE")]
    pub disk_size: Option<String>,
    /// Join a network (repeatable); the VM's name resolves in its DNS. `volt0` is created on first use
    #[arg(long = "network", visible_alias = "net", value_name = "NETWORK")]
    pub network: Vec<String>,
    /// Forward a host port to the VM (on its first network) (repeatable)
    #[arg(short = 'p', long = "publish", value_name = "HOSTPORT:PORT[/tcp|udp]")]
    pub publish: Vec<String>,
    /// Machine type: microvm (minimal devices, virtio-mmio, fastest boot) or q35 (a general PC)
    #[arg(long, value_parser = ["microvm", "q35"])]
    pub machine: Option<String>,
    /// Back guest memory with hugepages (needs free pages in /proc/sys/vm/nr_hugepages)
    #[arg(long)]
    pub hugepages: bool,
}

/// `volt vm snapshot …`
#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Snapshot a VM's disk
    #[command(after_help = "Example:\n  volt vm snapshot create web before-upgrade")]
    Create {
        /// VM name
        vm: String,
        /// Snapshot name
        name: String,
    },
    /// List a VM's snapshots
    #[command(visible_alias = "ls")]
    List {
        /// VM name
        vm: String,
    },
    /// Put a stopped VM's disk back to a snapshot
    Restore {
        /// VM name
        vm: String,
        /// Snapshot name
        name: String,
    },
    /// Delete a snapshot
    #[command(visible_alias = "rm")]
    Delete {
        /// VM name
        vm: String,
        /// Snapshot name
        name: String,
    },
}

/// `volt kernel …`
#[derive(Debug, Subcommand)]
pub enum KernelCommand {
    /// List installed kernels and the profiles
    #[command(visible_alias = "ls")]
    List,
    /// Install a profile's kernel: server, dev, desktop and rt from Debian's kernel packages
    /// (unpacked with dpkg-deb -x, nothing goes into /boot) with an initramfs of their virtio
    /// modules; minimal compiled from Debian's linux-source (a few minutes)
    #[command(
        after_help = "Examples:\n  volt kernel build server\n  volt kernel build minimal   # needs make gcc flex bison bc libelf-dev"
    )]
    Build {
        /// Profile
        #[arg(value_parser = ["server", "desktop", "rt", "minimal", "dev"])]
        profile: String,
    },
    /// Add a kernel image (bzImage) under a name (a profile's name makes it that profile's kernel)
    #[command(after_help = "Examples:\n  volt kernel import ./vmlinuz --name mykernel --initrd ./initrd.img\n  \
        volt kernel import ./bzImage --name minimal")]
    Import {
        /// The kernel image
        file: PathBuf,
        /// Name to install it under
        #[arg(long)]
        name: String,
        /// Its initramfs
        #[arg(long, value_name = "FILE")]
        initrd: Option<PathBuf>,
        /// Kernel arguments every VM with this kernel gets
        #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
        cmdline: Option<String>,
    },
    /// Remove a kernel no VM uses
    #[command(visible_alias = "remove")]
    Rm {
        /// Kernel name
        name: String,
    },
}

/// `volt tune …`
#[derive(Debug, Subcommand)]
pub enum TuneCommand {
    /// CPU tuning
    #[command(subcommand)]
    Cpu(TuneCpuCommand),
}

/// `volt tune cpu …`
#[derive(Debug, Subcommand)]
pub enum TuneCpuCommand {
    /// Pin a VM's vCPU threads to host CPUs (now if it runs, and at every start); `--cpus all` unpins
    #[command(after_help = "Example:\n  volt tune cpu pin web --cpus 0-1")]
    Pin {
        /// VM name
        vm: String,
        /// Host CPUs: a list like 0-1,3, or `all`
        #[arg(long)]
        cpus: String,
    },
}
