# ruff: noqa: E501  (data: a fact and its question stay whole on their lines)
"""A paraphrase set for recall by meaning: 160 engineering facts, each asked in other words.

Written for this project (bench_paraphrase): the questions share few words with
their facts, as an agent's later question rarely repeats the note it needs. The
distractors are seeded combinations of engineering notes that share the facts'
vocabulary (tools, services, people) so that matching words is not enough.
"""

from __future__ import annotations

import random

FACTS: list[tuple[str, str]] = [
    (
        "The CI runner times out after 40 minutes on the integration job.",
        "how long before the integration build gets killed?",
    ),
    (
        "We pin redis-py below 6 because of the async pool bug.",
        "why can't we upgrade the python client for our key-value cache to the latest major?",
    ),
    (
        "The staging database is refreshed from a sanitized production dump every Sunday night.",
        "when does the pre-prod environment get a fresh copy of real data?",
    ),
    (
        "Feature flags are managed in LaunchDarkly; stale flags are removed after two sprints.",
        "which service toggles experimental functionality, and when do old toggles get cleaned up?",
    ),
    (
        "Mobile app releases go through TestFlight for a three-day beta before App Store submission.",
        "how long do iOS builds sit with testers before we publish them?",
    ),
    (
        "The payments service must never log full card numbers; use the masked PAN helper.",
        "what should I do about credit card digits in log output?",
    ),
    (
        "Our API rate limit is 600 requests per minute per token.",
        "how many calls can a client make each minute before being throttled?",
    ),
    (
        "Database migrations are written with Alembic and must be reversible.",
        "what tool do we use for schema changes, and do they need a downgrade path?",
    ),
    (
        "The frontend is built with Vite and React 18, bundled into static assets served by CloudFront.",
        "what does the web UI compile with, and which CDN hosts it?",
    ),
    (
        "Secrets live in HashiCorp Vault; never commit them to the repository.",
        "where are passwords and API keys kept?",
    ),
    (
        "Code review requires two approvals, one of them from a code owner.",
        "how many sign-offs does a pull request need before merging?",
    ),
    (
        "The Elasticsearch cluster has three master-eligible nodes to avoid split brain.",
        "why does the full-text search tier keep an odd number of leader candidates?",
    ),
    (
        "Logs are shipped with Fluent Bit to Loki and retained for 14 days.",
        "how long can I look back in the log aggregator?",
    ),
    (
        "The monorepo uses Bazel; run bazel test //... before pushing.",
        "which build system compiles everything in our single big repository?",
    ),
    (
        "Kafka topics for orders have 12 partitions and a replication factor of 3.",
        "how is the purchase event stream sharded and copied across brokers?",
    ),
    (
        "The nightly ETL job loads warehouse tables in Snowflake at 2 AM UTC.",
        "when does the analytics pipeline refresh the data warehouse?",
    ),
    (
        "Python services target 3.11; 3.12 is blocked by a grpcio wheel issue.",
        "why are we not on the newest interpreter release yet?",
    ),
    (
        "Docker images are based on distroless to keep the attack surface small.",
        "what base do our containers start from, and why?",
    ),
    (
        "The legacy billing system is written in Perl and owned by the finance platform team.",
        "who maintains the old invoicing code and what language is it in?",
    ),
    (
        "The error budget is 99.9% monthly availability for the public API.",
        "what uptime target do we promise for external endpoints?",
    ),
    (
        "Terraform state is stored in an S3 bucket with DynamoDB locking.",
        "where does our infrastructure-as-code keep track of what it provisioned?",
    ),
    (
        "Customer support escalations go to the #support-tier2 Slack channel.",
        "where do I send a hard customer ticket I can't solve?",
    ),
    (
        "The search page debounces keystrokes by 300 ms before querying.",
        "how long does the UI wait after typing before firing a lookup?",
    ),
    (
        "Go services use golangci-lint with the errcheck and staticcheck linters enabled.",
        "which static analysis runs on our golang code?",
    ),
    (
        "GraphQL queries are limited to a depth of 7 to prevent abusive requests.",
        "how deeply can a client nest fields in an API query?",
    ),
    (
        "User uploads are scanned by ClamAV before being stored.",
        "do we check files people send us for viruses?",
    ),
    (
        "The design system components live in the @acme/ui npm package.",
        "where do I find the shared buttons and form widgets for the web app?",
    ),
    (
        "Session cookies expire after 12 hours of inactivity.",
        "how long until an idle user is logged out?",
    ),
    (
        "Load tests are run with k6 against the staging environment before major launches.",
        "what do we use to simulate heavy traffic before a big release?",
    ),
    (
        "The Android app minimum supported SDK is 26 (Android 8.0).",
        "what's the oldest phone OS version we still support on Google's platform?",
    ),
    (
        "Background jobs run on Sidekiq with a dedicated queue for emails.",
        "what processes asynchronous work, and where do outgoing messages get queued?",
    ),
    (
        "Passwords are hashed with Argon2id using the library defaults.",
        "which algorithm protects stored user credentials?",
    ),
    (
        "Prometheus scrapes metrics every 15 seconds; alerts are routed through Alertmanager.",
        "how often are service measurements collected?",
    ),
    (
        "The data retention policy deletes inactive accounts after 24 months.",
        "when do we purge users who never come back?",
    ),
    (
        "Hotfixes branch from the latest release tag, not from main.",
        "where should an urgent patch start from?",
    ),
    (
        "The image resizing service uses libvips because ImageMagick was too slow.",
        "why did we switch libraries for generating thumbnails?",
    ),
    (
        "Internationalization strings are stored in Crowdin and synced weekly.",
        "how do translations get into the product?",
    ),
    (
        "We use semantic versioning for the public SDKs; breaking changes bump the major.",
        "how do the client library version numbers signal incompatible updates?",
    ),
    (
        "The VPN is required to reach the admin dashboard.",
        "why can't I open the internal control panel from home?",
    ),
    (
        "Flaky tests are quarantined with the @flaky marker and tracked in JIRA.",
        "what do we do with checks that fail randomly?",
    ),
    (
        "gRPC deadlines default to 5 seconds between internal services.",
        "how long does one backend wait on another's RPC before giving up?",
    ),
    (
        "PDF invoices are generated with WeasyPrint from HTML templates.",
        "how are billing documents rendered for download?",
    ),
    (
        "The recommendation model is retrained every Tuesday on the last 90 days of clicks.",
        "how often is the suggestions algorithm refreshed and on how much history?",
    ),
    (
        "Our primary cloud region is eu-west-1; disaster recovery is in eu-central-1.",
        "which AWS datacenter do we mainly run in, and where is the failover?",
    ),
    (
        "Webhook deliveries are retried for up to 72 hours with jittered delays.",
        "how long do we keep trying to notify a customer's endpoint?",
    ),
    (
        "The shared dev Postgres has a 100 connection limit; use PgBouncer locally.",
        "why do I get 'too many clients' on the team database?",
    ),
    (
        "All new endpoints must have OpenAPI specs checked into the api-specs repo.",
        "where does the documentation for a new REST route go?",
    ),
    (
        "Sentry captures frontend exceptions; source maps are uploaded during deploy.",
        "how do we see stack traces from browser crashes?",
    ),
    (
        "The CEO demo environment is frozen every Friday afternoon.",
        "when can't we push changes to the exec showcase setup?",
    ),
    (
        "Java services run on Temurin 17 with the G1 garbage collector.",
        "which JVM and memory collector do our Spring apps use?",
    ),
    (
        "Email is sent through Amazon SES; bounces are processed by a Lambda.",
        "what delivers our outgoing mail, and who handles undeliverable messages?",
    ),
    (
        "The search index is rebuilt from scratch on the first of every month.",
        "how often do we regenerate the full lookup index?",
    ),
    (
        "Unit tests must finish in under 10 minutes or the pipeline fails.",
        "what's the time budget for the quick test stage?",
    ),
    (
        "We disabled HTTP/2 on the load balancer because of a header-size bug in old clients.",
        "why is the newer web protocol switched off at the edge?",
    ),
    (
        "Dependabot opens PRs weekly; security patches are merged within 48 hours.",
        "how fast must vulnerable library updates land?",
    ),
    (
        "Cron jobs run in Kubernetes CronJobs, not on the old bastion host.",
        "where do scheduled tasks execute now?",
    ),
    (
        "The marketing site is a separate Next.js app deployed on Vercel.",
        "where is the public promotional website hosted?",
    ),
    (
        "Money amounts are stored as integer cents, never floats.",
        "how do we represent prices in the database to avoid rounding errors?",
    ),
    (
        "The oncall rotation changes every Monday at 10 AM.",
        "when does pager duty hand over to the next person?",
    ),
    (
        "Access to production databases requires a break-glass request approved by a lead.",
        "how do I get into the live data store in an emergency?",
    ),
    (
        "TLS certificates are issued by Let's Encrypt via cert-manager and renew 30 days before expiry.",
        "how do our HTTPS certs get refreshed?",
    ),
    (
        "The mobile API gateway strips unknown headers.",
        "why don't custom request fields from the phone app reach the backend?",
    ),
    (
        "Protobuf field numbers must never be reused after a field is deleted.",
        "can I recycle an old tag number in a message schema?",
    ),
    (
        "Architecture decisions are recorded as ADRs in the docs/adr folder.",
        "where do we write down why we chose a design?",
    ),
    (
        "The Redis cluster evicts keys with allkeys-lru when memory is full.",
        "what happens in the cache when it runs out of RAM?",
    ),
    (
        "Our Node services run on Node 20 LTS; odd-numbered releases are not allowed.",
        "which JavaScript runtime version do backend apps use?",
    ),
    (
        "The data science team owns the Airflow instance.",
        "who should I ask about the workflow scheduler for pipelines?",
    ),
    (
        "Blue-green deployments are used for the checkout service.",
        "how do we roll out the purchase flow without downtime?",
    ),
    (
        "The CDN caches API responses only when they carry Cache-Control: public.",
        "why is the edge network not storing my endpoint's output?",
    ),
    ("Sprint planning happens every other Wednesday.", "how often do we schedule iteration work?"),
    (
        "Product analytics events are sent to Segment and forwarded to Amplitude.",
        "which pipeline tracks user behaviour for the PMs?",
    ),
    (
        "The maximum upload size is 25 MB; larger files must use the resumable upload endpoint.",
        "what's the biggest attachment someone can send in one go?",
    ),
    (
        "The test database is reset between test modules using transactions rolled back at teardown.",
        "how do automated checks keep from polluting each other's data?",
    ),
    (
        "Service-to-service auth uses mTLS with certificates from the internal CA.",
        "how do backends prove their identity to one another?",
    ),
    (
        "We avoid ORM lazy loading in API handlers; use select_related or joinedload.",
        "why do reviewers reject code that fetches relationships on access?",
    ),
    (
        "Log lines are structured JSON with a request_id field.",
        "what format should my service print its diagnostics in?",
    ),
    (
        "The geo lookup uses MaxMind GeoLite2, updated weekly.",
        "how do we map IP addresses to countries?",
    ),
    (
        "Chaos experiments with Gremlin run in staging on the last Thursday of each month.",
        "when do we deliberately break things to test resilience?",
    ),
    (
        "Elastic Beanstalk was retired in 2022; everything moved to EKS.",
        "do we still use the old AWS app platform?",
    ),
    (
        "The search autocomplete uses a trie built from the top 50,000 queries.",
        "what powers the typeahead suggestions?",
    ),
    (
        "Video transcoding runs on spot GPU instances to save money.",
        "why are the movie encoding machines sometimes interrupted?",
    ),
    (
        "Mutation testing with mutmut is run on the pricing module only.",
        "where do we check test suite quality by injecting bugs?",
    ),
    (
        "The public status page is hosted on Statuspage.io and updated by the incident commander.",
        "who tells customers about outages, and where?",
    ),
    (
        "The maximum Lambda timeout we allow is 5 minutes.",
        "how long can a serverless function run?",
    ),
    (
        "Customer data from EU users must stay in EU regions under GDPR.",
        "can European clients' records be stored in the US?",
    ),
    (
        "Pre-commit hooks run black, isort and mypy.",
        "what checks fire on my machine before a commit is recorded?",
    ),
    (
        "The connection pool size for the orders service is 20 per pod.",
        "how many simultaneous DB links does each replica of the purchase backend open?",
    ),
    (
        "The admin panel is built with Django admin and only reachable on the internal network.",
        "what is the back-office UI made with?",
    ),
    (
        "We chose SQLite for the desktop client's local storage.",
        "what embedded database does the offline app use?",
    ),
    (
        "Performance budget: the homepage must load in under 2 seconds on 4G.",
        "how fast should the landing page be on a mobile network?",
    ),
    (
        "Incident postmortems are blameless and due within five business days.",
        "how soon after an outage must the review write-up be ready?",
    ),
    (
        "The job queue uses RabbitMQ with dead-letter exchanges for poisoned messages.",
        "where do messages that keep failing end up?",
    ),
    (
        "Our SSO provider is Okta; SCIM provisions accounts automatically.",
        "how are employee logins and account creation handled?",
    ),
    (
        "API pagination uses opaque cursors, not page numbers.",
        "how do clients fetch the next set of list results?",
    ),
    (
        "The warehouse robot firmware is deployed over the air in batches of 50.",
        "how are updates pushed to the machines on the fulfilment floor?",
    ),
    (
        "Timeouts to the third-party shipping API are set to 3 seconds with a circuit breaker.",
        "what protects us when the courier's service is slow?",
    ),
    (
        "Database backups are tested by restoring one every quarter.",
        "how do we know our snapshots actually work?",
    ),
    (
        "Git commit messages follow Conventional Commits.",
        "what style should I use to describe my change in version control history?",
    ),
    (
        "Kubernetes pods have CPU requests of 250m and limits of 1 core by default.",
        "what compute resources does a container get if I don't specify any?",
    ),
    (
        "Machine learning features are served from Feast backed by Redis.",
        "where do models get their input attributes at prediction time?",
    ),
    (
        "Legacy SOAP endpoints are deprecated and will be shut down in Q3.",
        "when do the old XML web services go away?",
    ),
    (
        "New engineers get production read access after completing security training.",
        "what must a new hire do before they can view live systems?",
    ),
    (
        "The websocket server sends a heartbeat ping every 25 seconds.",
        "how often does the real-time connection check the client is still there?",
    ),
    (
        "The Rust parser crate forbids unsafe code via #![forbid(unsafe_code)].",
        "are we allowed raw pointer tricks in the parsing library?",
    ),
    (
        "Cost alerts fire when the monthly AWS bill forecast exceeds $40k.",
        "when do we get warned that cloud spending is too high?",
    ),
    (
        "The ranking service caches embeddings on local NVMe disks.",
        "where are vector representations kept for the ordering backend?",
    ),
    (
        "Every table must have created_at and updated_at columns.",
        "which timestamp fields are mandatory on each relation?",
    ),
    (
        "Config for services comes from environment variables, following twelve-factor.",
        "how do apps read their settings?",
    ),
    (
        "The iOS app is written in Swift with SwiftUI; UIKit only for the camera screen.",
        "which UI framework does the iPhone client use?",
    ),
    (
        "We stopped using Jenkins in 2023; all pipelines are GitHub Actions.",
        "which automation server builds our code now?",
    ),
    (
        "The reporting dashboards use Metabase connected to a read replica.",
        "what do managers use for charts, and which database does it hit?",
    ),
    (
        "Soft deletes use a deleted_at column; rows are purged after 30 days.",
        "when a record is removed, is it gone immediately?",
    ),
    (
        "The CSV export is limited to 100,000 rows; bigger exports go via an email link.",
        "what if someone wants a spreadsheet download of a huge dataset?",
    ),
    (
        "The fraud model blocks transactions with a risk score above 0.85.",
        "at what threshold do we reject suspicious payments?",
    ),
    (
        "Indexes on large tables must be created CONCURRENTLY.",
        "how do I add a lookup structure to a huge table without locking it?",
    ),
    (
        "The notification service batches push messages every 30 seconds.",
        "why do phone alerts arrive with a small delay?",
    ),
    (
        "Mypy runs in strict mode on the core package.",
        "how strict is type checking for the main Python library?",
    ),
    (
        "The billing cycle closes on the last day of each month at midnight UTC.",
        "when are invoices cut?",
    ),
    (
        "Our Helm charts live in the infra-charts repository.",
        "where are the kubernetes package templates kept?",
    ),
    (
        "The SFTP server for partner file drops rotates its host keys yearly.",
        "how do business partners send us bulk files?",
    ),
    (
        "Batch jobs must be idempotent because the scheduler may run them twice.",
        "why should a scheduled task be safe to repeat?",
    ),
    (
        "The password reset link is valid for 1 hour.",
        "how long can someone use the forgot-password email?",
    ),
    (
        "Accessibility: every page must pass WCAG 2.1 AA checks in axe.",
        "what standard do screens need to meet for users with disabilities?",
    ),
    (
        "The analytics team's dbt models are tested with dbt test on every merge.",
        "how are the SQL transformations for reporting validated?",
    ),
    (
        "The main branch is protected; force pushes are disabled.",
        "can I rewrite history on the default branch?",
    ),
    (
        "Our ClickHouse cluster stores 18 months of event data.",
        "how far back can I query raw tracking events in the column store?",
    ),
    (
        "Celery workers autoscale between 2 and 10 processes.",
        "how many task executors spin up under load?",
    ),
    (
        "The typo-tolerant search uses Levenshtein distance up to 2.",
        "how many misspelled letters can a lookup forgive?",
    ),
    (
        "Gradle builds use the configuration cache to speed up Android compiles.",
        "what trick cut compile times for the phone app?",
    ),
    (
        "We use Playwright for end-to-end browser tests.",
        "which tool drives a real browser in our UI automation?",
    ),
    (
        "The main Postgres uses logical replication to feed the search indexer.",
        "how do row changes reach the full-text engine?",
    ),
    (
        "The Kafka consumer lag alert fires above 10,000 messages.",
        "when are we warned that event processing is falling behind?",
    ),
    (
        "Stripe is our payment processor; PayPal is only offered in Germany.",
        "which company charges cards, and where can people use an alternative wallet?",
    ),
    (
        "The support chat widget is Intercom, loaded only after user consent.",
        "why doesn't the help messenger show up before the cookie banner is accepted?",
    ),
    (
        "Large language model calls go through an internal proxy that logs token usage.",
        "how do we track how much we spend on AI completions?",
    ),
    (
        "The Nginx ingress has a request body limit of 10 MB.",
        "why are big POST payloads rejected with 413?",
    ),
    (
        "Frontend state is managed with Redux Toolkit; no new MobX code.",
        "which library should hold client-side application state?",
    ),
    ("Releases are cut every two weeks on Thursday.", "what's our shipping cadence?"),
    (
        "DNS is managed in Route 53, with a 60-second TTL on API records.",
        "how quickly do hostname changes propagate for our endpoints?",
    ),
    (
        "Debug logging must not be enabled in production for more than an hour.",
        "how long may verbose diagnostics stay on in the live environment?",
    ),
    (
        "The embedded devices report telemetry over MQTT.",
        "what protocol do the IoT sensors use to send their readings?",
    ),
    (
        "Load balancer health checks hit /healthz every 10 seconds.",
        "how does the traffic distributor know an instance is alive?",
    ),
    (
        "The code freeze before Black Friday starts two weeks ahead.",
        "when do we stop shipping changes ahead of the biggest shopping weekend?",
    ),
    (
        "User avatars are stored in S3 and served through signed URLs that expire in 15 minutes.",
        "how long are links to profile pictures good for?",
    ),
    (
        "The OCR pipeline uses Tesseract for scanned receipts.",
        "what reads text from photographed expense slips?",
    ),
    (
        "Python dependencies are locked with uv and a uv.lock file.",
        "how do we freeze package versions for our Python projects?",
    ),
    (
        "The audit log is append-only and written to a separate database.",
        "where is the tamper-proof history of admin actions kept?",
    ),
    (
        "Spam signups are filtered with hCaptcha on the registration form.",
        "how do we stop bots from creating accounts?",
    ),
    (
        "The legacy monolith still handles user profile updates.",
        "which part of the system saves changes to someone's personal details?",
    ),
    (
        "The ML training cluster has 8 A100 GPUs shared through a Slurm queue.",
        "how do data scientists get accelerator time for model training?",
    ),
    (
        "Zero-downtime schema changes use the expand-and-contract pattern.",
        "how do we alter tables without taking the site offline?",
    ),
    (
        "Cron schedules in our job scheduler are written in UTC.",
        "in which clock are scheduled job times expressed?",
    ),
    (
        "Apple push certificates expire every year in March and must be renewed.",
        "when does iPhone notification delivery break if we forget something?",
    ),
    (
        "The CLI tool is distributed through Homebrew and a curl installer.",
        "how do developers install our command-line program?",
    ),
    (
        "Search results are personalized only for signed-in users.",
        "do anonymous visitors get tailored rankings?",
    ),
    (
        "We keep 20% headroom on database disks and alert at 80% full.",
        "when does storage usage on the DB trigger a warning?",
    ),
    (
        "Shared staging is reserved via the #staging-lock channel.",
        "how do I claim the pre-production environment for my testing?",
    ),
    (
        "Snapshot tests for React components use Jest; update them with -u deliberately.",
        "how do I refresh stored component render outputs?",
    ),
    (
        "The openssl version on the build images is pinned to 3.0 LTS.",
        "which version of the crypto library is fixed on our build containers?",
    ),
    (
        "Internal packages are published to a private Artifactory registry.",
        "where do our in-house libraries get uploaded?",
    ),
]


PEOPLE = [
    "Priya",
    "Marco",
    "Lena",
    "Tomás",
    "Aisha",
    "Jonas",
    "Mei",
    "Oluwaseun",
    "Sven",
    "Carla",
    "Dmitri",
    "Hana",
    "Rafael",
    "Ines",
    "Kenji",
    "Fatima",
    "Noah",
    "Zoe",
]
COMPONENTS = [
    "checkout service",
    "user profile API",
    "search indexer",
    "billing worker",
    "notification service",
    "auth gateway",
    "inventory sync",
    "report generator",
    "image pipeline",
    "recommendation API",
    "shipping adapter",
    "admin panel",
    "mobile backend",
    "analytics collector",
    "webhook dispatcher",
    "pricing engine",
    "feature store",
    "chat service",
    "export worker",
    "scheduler",
    "ledger service",
    "catalog importer",
    "session store",
    "rate limiter",
    "audit trail",
    "CMS",
    "media CDN origin",
    "payments adapter",
    "fraud scorer",
    "email renderer",
]
SYMPTOMS = [
    "high p99 latency",
    "memory growth",
    "intermittent 502s",
    "duplicate events",
    "stale reads",
    "slow cold starts",
    "a deadlock",
    "CPU spikes",
    "dropped messages",
    "a null pointer exception",
    "timezone drift",
    "a cache stampede",
    "wrong totals",
    "a leaking file handle",
    "retry storms",
    "an off-by-one in paging",
]
ENVS = [
    "staging",
    "production",
    "the dev cluster",
    "the QA stack",
    "the canary pool",
    "the EU region",
    "the US region",
    "the load-test environment",
]
FIXES = [
    "bumping the client library",
    "adding an index",
    "raising the worker count",
    "reverting the last deploy",
    "a config change",
    "a hotfix to the serializer",
    "clearing the queue",
    "restarting the pods",
    "adding a missing await",
    "tightening the query filter",
    "fixing the mutex order",
    "a schema backfill",
]
STATUS = [
    "fixed",
    "still open",
    "won't fix",
    "needs triage",
    "mitigated, root cause unknown",
    "duplicate of an older ticket",
    "waiting on vendor",
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
TOPICS = [
    "the API versioning plan",
    "on-boarding docs",
    "the Q3 roadmap",
    "tech debt cleanup",
    "the hiring loop",
    "the vendor evaluation",
    "test coverage goals",
    "the logging revamp",
    "dashboard ownership",
    "the migration to ARM instances",
    "cost reduction ideas",
    "the accessibility audit",
    "the dependency upgrade backlog",
    "the incident review",
    "latency targets",
    "the data model redesign",
]
METRICS = [
    "error rate",
    "queue depth",
    "request count",
    "cache hit ratio",
    "disk usage",
    "GC pause time",
    "open connections",
    "p95 latency",
    "throughput",
    "retry count",
]
HW = [
    "a c6i.xlarge",
    "an m5.2xlarge",
    "a Graviton r7g.large",
    "a developer laptop",
    "two vCPUs",
    "a bare-metal box",
]
VENDORS = [
    "Datadog",
    "New Relic",
    "PagerDuty",
    "Atlassian",
    "Cloudflare",
    "Fastly",
    "Twilio",
    "Auth0",
    "MongoDB Atlas",
    "Confluent",
    "Heroku",
    "DigitalOcean",
]

TECH = [
    "Redis",
    "Kafka",
    "Postgres",
    "Elasticsearch",
    "Kubernetes",
    "Terraform",
    "GitHub Actions",
    "Sentry",
    "Prometheus",
    "Grafana",
    "RabbitMQ",
    "Celery",
    "Snowflake",
    "dbt",
    "Airflow",
    "React",
    "Vite",
    "Django",
    "Spring",
    "gRPC",
    "GraphQL",
    "Helm",
    "Vault",
    "Okta",
    "Stripe",
    "S3",
    "CloudFront",
    "Nginx",
    "ClickHouse",
    "Docker",
    "Bazel",
    "Jest",
    "Playwright",
    "mypy",
    "ruff",
    "the CI pipeline",
    "the staging cluster",
    "the release train",
    "the oncall rotation",
]

TEMPLATES = [
    lambda r: f"{r.choice(PEOPLE)} gave a lunch talk about {r.choice(TECH)} on {r.choice(DAYS)}.",
    lambda r: (
        f"Evaluate replacing {r.choice(TECH)} with {r.choice(TECH)} for the "
        f"{r.choice(COMPONENTS)} next quarter."
    ),
    lambda r: (
        f"The {r.choice(TECH)} dashboards moved to the {r.choice(['platform', 'data', 'web', 'mobile', 'payments'])} "
        f"team folder."
    ),
    lambda r: (
        f"{r.choice(PEOPLE)} wrote a how-to on debugging {r.choice(TECH)} issues in "
        f"{r.choice(ENVS)}."
    ),
    lambda r: f"The {r.choice(TECH)} training budget for {r.choice(MONTHS)} was approved.",
    lambda r: (
        f"{r.choice(PEOPLE)} fixed {r.choice(SYMPTOMS)} in the {r.choice(COMPONENTS)} "
        f"on {r.choice(DAYS)} by {r.choice(FIXES)}."
    ),
    lambda r: (
        f"Ticket {r.choice('ABCDEFG')}{r.randint(100, 9999)}: the {r.choice(COMPONENTS)} "
        f"shows {r.choice(SYMPTOMS)} in {r.choice(ENVS)}; {r.choice(STATUS)}."
    ),
    lambda r: (
        f"Meeting notes {r.choice(MONTHS)} {r.randint(1, 28)}: discussed {r.choice(TOPICS)}; "
        f"{r.choice(PEOPLE)} owns the follow-up."
    ),
    lambda r: (
        f"The {r.choice(METRICS)} panel of the {r.choice(COMPONENTS)} dashboard was "
        f"renamed to '{r.choice(METRICS)} (new)'."
    ),
    lambda r: (
        f"The {r.choice(COMPONENTS)} upgrade to version {r.randint(1, 9)}.{r.randint(0, 30)} "
        f"is planned for {r.choice(MONTHS)}."
    ),
    lambda r: (
        f"Benchmark: the {r.choice(COMPONENTS)} handled {r.randint(2, 400) * 50} requests "
        f"per second on {r.choice(HW)}."
    ),
    lambda r: (
        f"{r.choice(PEOPLE)} is on vacation in {r.choice(MONTHS)}; {r.choice(PEOPLE)} "
        f"covers reviews for the {r.choice(COMPONENTS)}."
    ),
    lambda r: (
        f"Our {r.choice(VENDORS)} contract renews in {r.choice(MONTHS)}; "
        f"{r.choice(PEOPLE)} negotiates it."
    ),
    lambda r: (
        f"Postmortem draft: {r.choice(SYMPTOMS)} in the {r.choice(COMPONENTS)} lasted "
        f"{r.randint(3, 180)} minutes in {r.choice(ENVS)}."
    ),
    lambda r: f"The {r.choice(COMPONENTS)} README now explains how to run it in {r.choice(ENVS)}.",
    lambda r: (
        f"Demo of the {r.choice(COMPONENTS)} to the {r.choice(['sales', 'support', 'finance', 'legal', 'design'])} "
        f"team went well on {r.choice(DAYS)}."
    ),
    lambda r: (
        f"{r.choice(PEOPLE)} suggested moving the {r.choice(COMPONENTS)} off "
        f"{r.choice(VENDORS)} to save money."
    ),
    lambda r: (
        f"Spike: the {r.choice(METRICS)} of the {r.choice(COMPONENTS)} doubled after the "
        f"{r.choice(DAYS)} release in {r.choice(ENVS)}."
    ),
    lambda r: (
        f"Refactor of the {r.choice(COMPONENTS)} removed {r.randint(2, 90) * 10} lines of "
        f"dead code; reviewed by {r.choice(PEOPLE)}."
    ),
]


def distractors(n: int, seed: int = 7) -> list[str]:
    """``n`` distinct distractor notes, the same for the same seed."""
    r = random.Random(seed)
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        text = r.choice(TEMPLATES)(r)
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out
