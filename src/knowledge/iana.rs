//! IANA's Service Name and Transport Protocol Port Number Registry, embedded and indexed.
//!
//! The registry ships as IANA's own CSV (public domain) so that a refresh is a file copy, not a
//! code change; see `assets/README.md`. It is parsed once, on first use, into a table plus a
//! per-port index, so a lookup costs one slice access no matter how many rows cover the port.
//! Rows whose port column is empty name services without a port (used for DNS SRV records);
//! they are counted but stay out of the port index.
//!
//! The CSV is decoded with the `csv` crate when portscope is built (`build.rs`, see
//! `csv_reader`) into a plain record list, which is what is embedded: the one-time load then
//! only splits text, and every text field borrows from it instead of being copied. Only the
//! decoding moved to the build; what the fields mean is worked out here at load time, so a row
//! that cannot be understood is reported with its line, and tests feed this code hostile files
//! directly. Ids and references are turned into readable names only when shown ([`Names`],
//! [`References`]), which keeps the load short.
//!
//! The CSV is data, not code: a row that cannot be understood is skipped and recorded (see
//! [`iana_skipped_rows`]) instead of aborting the whole table, and a test keeps that list empty
//! for the copy that ships.

use std::borrow::Cow;
use std::fmt;
use std::sync::LazyLock;

use serde::{Serialize, Serializer};

use super::csv_reader::{CsvError, RecordReader};
use super::transport::Transport;

/// Text from the registry: borrowed from the embedded file, or owned where unescaping was
/// needed.
pub type RegistryText = Cow<'static, str>;

/// The registry as shipped (`assets/service-names-port-numbers.csv`), as the record list the
/// build script made of it.
static REGISTRY_RECORDS: &str = include_str!(concat!(env!("OUT_DIR"), "/iana-records.txt"));

/// The header line IANA's CSV has had since 2011; anything else means the format changed.
pub const EXPECTED_HEADER: [&str; 12] = [
    "Service Name",
    "Port Number",
    "Transport Protocol",
    "Description",
    "Assignee",
    "Contact",
    "Registration Date",
    "Modification Date",
    "Reference",
    "Service Code",
    "Unauthorized Use Reported",
    "Assignment Notes",
];

/// Number of slots in the per-port index: one per port plus the end marker.
const INDEX_SLOTS: usize = u16::MAX as usize + 2;

static REGISTRY: LazyLock<Registry> = LazyLock::new(|| Registry::parse(REGISTRY_RECORDS));

/// What a registry row says about its ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A named service is registered.
    Assigned,
    /// IANA keeps the port(s) back: "Reserved", and the historic "any private ..." rows.
    Reserved,
    /// No service: "Unassigned", and rows marked de-registered, removed or decommissioned.
    Unassigned,
}

impl EntryKind {
    /// Lowercase name for display.
    pub const fn as_str(self) -> &'static str {
        match self {
            EntryKind::Assigned => "assigned",
            EntryKind::Reserved => "reserved",
            EntryKind::Unassigned => "unassigned",
        }
    }
}

/// An inclusive span of ports; most rows cover a single port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct PortSpan {
    pub lo: u16,
    pub hi: u16,
}

impl PortSpan {
    /// Whether `port` lies in the span.
    pub const fn contains(self, port: u16) -> bool {
        self.lo <= port && port <= self.hi
    }

    /// Whether the span is one port.
    pub const fn is_single(self) -> bool {
        self.lo == self.hi
    }
}

impl fmt::Display for PortSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_single() {
            write!(f, "{}", self.lo)
        } else {
            write!(f, "{}–{}", self.lo, self.hi)
        }
    }
}

/// One row of the registry that has a port.
///
/// Text fields are kept as IANA wrote them (trimmed). Person and organisation ids such as
/// `[Jon_Postel]` read as names ("Jon Postel"), and references such as `[RFC6335]` as
/// "RFC 6335", both when displayed and in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IanaEntry {
    /// The registered service name (`ssh`, `https`); `None` for reserved and unassigned rows.
    pub service_name: Option<RegistryText>,
    /// The port or ports the row covers.
    pub ports: PortSpan,
    /// The transport the row is for; `None` means every transport.
    pub transport: Option<Transport>,
    pub kind: EntryKind,
    pub description: RegistryText,
    pub assignee: Names,
    pub contact: Names,
    /// As IANA wrote it: `YYYY-MM-DD`, or `YYYY-MM` for some older rows.
    pub registration_date: Option<RegistryText>,
    pub modification_date: Option<RegistryText>,
    pub references: References,
    /// Free text; may span several lines.
    pub assignment_notes: Option<RegistryText>,
    /// IANA's remark on known use of the port without an assignment.
    pub unauthorized_use_reported: Option<RegistryText>,
}

impl IanaEntry {
    /// The service name, or a dash for rows without one.
    pub fn name_or_dash(&self) -> &str {
        self.service_name.as_deref().unwrap_or("-")
    }
}

/// Registry ids of people or organisations as IANA writes them (`[Jon_Postel][IANA]`), shown and
/// serialized as readable names ("Jon Postel", "IANA").
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Names(RegistryText);

impl Names {
    /// The field as IANA wrote it.
    pub fn raw(&self) -> &str {
        &self.0
    }

    /// The names, readable.
    pub fn iter(&self) -> impl Iterator<Item = String> + '_ {
        bracketed_items(&self.0).map(readable_name)
    }

    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

impl fmt::Display for Names {
    /// The names separated by commas.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_joined(f, self.iter(), ", ")
    }
}

impl Serialize for Names {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

/// The registry's references (`[RFC793][RFC9293]`), shown and serialized readably
/// ("RFC 793", "RFC 9293").
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct References(RegistryText);

impl References {
    /// The field as IANA wrote it.
    pub fn raw(&self) -> &str {
        &self.0
    }

    /// The references, readable.
    pub fn iter(&self) -> impl Iterator<Item = String> + '_ {
        bracketed_items(&self.0).map(readable_reference)
    }

    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

impl fmt::Display for References {
    /// The references separated by semicolons.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_joined(f, self.iter(), "; ")
    }
}

impl Serialize for References {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

fn write_joined(
    f: &mut fmt::Formatter<'_>,
    items: impl Iterator<Item = String>,
    separator: &str,
) -> fmt::Result {
    for (i, item) in items.enumerate() {
        if i > 0 {
            f.write_str(separator)?;
        }
        f.write_str(&item)?;
    }
    Ok(())
}

/// A row of the CSV that could not be understood and was left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedRow {
    /// Line of the CSV file where the row starts (1-based).
    pub line: u64,
    pub reason: String,
}

/// The registry file as a whole could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IanaLoadError {
    #[error("the registry's header line is not the expected IANA format: {found:?}")]
    UnexpectedHeader { found: Vec<String> },
    #[error("the registry could not be read: {0}")]
    Read(String),
}

/// The parsed registry: the rows with ports, and an index from port to rows.
struct Registry {
    entries: Vec<IanaEntry>,
    /// `index[starts[p]..starts[p + 1]]` are the positions in `entries` of the rows covering `p`,
    /// in file order.
    starts: Vec<u32>,
    index: Vec<u32>,
    rows: usize,
    skipped: Vec<SkippedRow>,
    error: Option<IanaLoadError>,
}

impl Registry {
    /// A registry with no rows, for when the file as a whole cannot be used.
    fn failed(error: IanaLoadError) -> Registry {
        Registry {
            entries: Vec::new(),
            starts: vec![0; INDEX_SLOTS],
            index: Vec::new(),
            rows: 0,
            skipped: Vec::new(),
            error: Some(error),
        }
    }

    /// Reads a record list made by [`csv_reader::encode`](super::csv_reader::encode).
    fn parse(records: &'static str) -> Registry {
        let mut reader = RecordReader::new(records);
        let mut fields = Vec::with_capacity(EXPECTED_HEADER.len());
        match reader.next_record(&mut fields) {
            Some(Ok(_)) if fields.iter().map(|f| f.trim()).eq(EXPECTED_HEADER) => {}
            Some(Ok(_)) => {
                let found = fields.iter().map(|f| f.to_string()).collect();
                return Registry::failed(IanaLoadError::UnexpectedHeader { found });
            }
            Some(Err(CsvError { problem, .. })) => {
                return Registry::failed(IanaLoadError::Read(problem));
            }
            None => return Registry::failed(IanaLoadError::Read("the file is empty".into())),
        }

        // Rows average about 80 bytes; reserving up front avoids moving the table while it grows.
        let mut entries = Vec::with_capacity(records.len() / 80);
        let mut skipped = Vec::new();
        let mut rows = 0;
        while let Some(result) = reader.next_record(&mut fields) {
            rows += 1;
            let outcome = result
                .and_then(|line| parse_row(&fields).map_err(|problem| CsvError { line, problem }));
            match outcome {
                Ok(Some(entry)) => entries.push(entry),
                Ok(None) => {}
                Err(CsvError { line, problem }) => skipped.push(SkippedRow {
                    line,
                    reason: problem,
                }),
            }
        }

        let (starts, index) = build_index(&entries);
        Registry {
            entries,
            starts,
            index,
            rows,
            skipped,
            error: None,
        }
    }

    fn at(&self, port: u16) -> impl Iterator<Item = &IanaEntry> {
        let slot = usize::from(port);
        let positions = match (self.starts.get(slot), self.starts.get(slot + 1)) {
            (Some(&from), Some(&to)) => self.index.get(from as usize..to as usize).unwrap_or(&[]),
            _ => &[],
        };
        positions
            .iter()
            .filter_map(|&position| self.entries.get(position as usize))
    }
}

/// Builds the port → rows index (compressed: one offset per port into one flat list).
fn build_index(entries: &[IanaEntry]) -> (Vec<u32>, Vec<u32>) {
    let mut starts = vec![0u32; INDEX_SLOTS];
    for entry in entries {
        for port in entry.ports.lo..=entry.ports.hi {
            starts[usize::from(port) + 1] += 1;
        }
    }
    for slot in 1..INDEX_SLOTS {
        starts[slot] += starts[slot - 1];
    }
    let mut next = starts.clone();
    let mut index = vec![0u32; starts[INDEX_SLOTS - 1] as usize];
    for (position, entry) in entries.iter().enumerate() {
        // The table holds some ten thousand rows; more than u32::MAX cannot come from a file
        // that fits in memory, so nothing is lost by skipping such a row.
        let Ok(position) = u32::try_from(position) else {
            break;
        };
        for port in entry.ports.lo..=entry.ports.hi {
            let cursor = &mut next[usize::from(port)];
            index[*cursor as usize] = position;
            *cursor += 1;
        }
    }
    (starts, index)
}

/// Turns one CSV record into an entry; `Ok(None)` for rows without a port.
fn parse_row(fields: &[&'static str]) -> Result<Option<IanaEntry>, String> {
    let [
        service_name,
        port,
        transport,
        description,
        assignee,
        contact,
        registration_date,
        modification_date,
        references,
        _service_code,
        unauthorized_use_reported,
        assignment_notes,
    ] = *fields
    else {
        return Err(format!(
            "expected {} fields, found {}",
            EXPECTED_HEADER.len(),
            fields.len()
        ));
    };
    if port.trim_ascii().is_empty() {
        return Ok(None);
    }
    let ports = parse_span(port.trim_ascii())?;
    let transport = match transport.trim_ascii() {
        "" => None,
        text => Some(text.parse::<Transport>().map_err(|e| e.to_string())?),
    };
    let service_name = optional(service_name);
    let description = trimmed(description);
    let kind = classify(service_name.as_deref(), &description);

    Ok(Some(IanaEntry {
        service_name,
        ports,
        transport,
        kind,
        description,
        assignee: Names(trimmed(assignee)),
        contact: Names(trimmed(contact)),
        registration_date: optional(registration_date),
        modification_date: optional(modification_date),
        references: References(trimmed(references)),
        assignment_notes: optional(assignment_notes),
        unauthorized_use_reported: optional(unauthorized_use_reported),
    }))
}

/// A field, trimmed.
fn trimmed(field: &'static str) -> RegistryText {
    Cow::Borrowed(field.trim_ascii())
}

/// Like [`trimmed`], with empty fields as `None`.
fn optional(field: &'static str) -> Option<RegistryText> {
    Some(trimmed(field)).filter(|text| !text.is_empty())
}

/// Parses the port column: `"22"` or `"6000-6063"`.
fn parse_span(text: &str) -> Result<PortSpan, String> {
    let number = |s: &str| {
        s.trim()
            .parse::<u16>()
            .map_err(|_| format!("port column {text:?} is not a port or port range"))
    };
    let (lo, hi) = match text.split_once('-') {
        Some((lo, hi)) => (number(lo)?, number(hi)?),
        None => {
            let port = number(text)?;
            (port, port)
        }
    };
    if lo > hi {
        return Err(format!("port range {text:?} starts after it ends"));
    }
    Ok(PortSpan { lo, hi })
}

/// Decides what a row means. A row with a service name is an assignment; without one, IANA
/// writes the status in the description, in a few spellings ("Reserved", "IANA Reserved",
/// "Unassigned", "unassigned", "De-registered", "Removed", "any private mail system", ...).
fn classify(service_name: Option<&str>, description: &str) -> EntryKind {
    if service_name.is_some() {
        return EntryKind::Assigned;
    }
    let description = description.to_ascii_lowercase();
    if description.contains("reserved") || description.starts_with("any private") {
        EntryKind::Reserved
    } else {
        EntryKind::Unassigned
    }
}

/// Splits `[a][b]` into `a`, `b`. Text outside brackets is kept as an item of its own so that
/// nothing IANA wrote is lost.
fn bracketed_items(field: &str) -> impl Iterator<Item = &str> {
    let mut rest = field;
    std::iter::from_fn(move || {
        loop {
            rest = rest.trim_ascii_start();
            if rest.is_empty() {
                return None;
            }
            let item;
            if let Some(inner) = rest.strip_prefix('[') {
                let end = inner.find(']').unwrap_or(inner.len());
                item = &inner[..end];
                rest = inner.get(end + 1..).unwrap_or_default();
            } else {
                let end = rest.find('[').unwrap_or(rest.len());
                item = &rest[..end];
                rest = &rest[end..];
            }
            let item = item.trim_ascii();
            if !item.is_empty() {
                return Some(item);
            }
        }
    })
}

/// Makes a registry id readable: `Jon_Postel` → "Jon Postel". IANA tells apart people of the
/// same name with a numeric suffix (`Bob_Braden_2`), which is dropped.
fn readable_name(id: &str) -> String {
    let base = match id.rsplit_once('_') {
        Some((head, tail))
            if !head.is_empty() && !tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit()) =>
        {
            head
        }
        _ => id,
    };
    base.replace('_', " ")
}

/// Makes a reference readable: `RFC6335` → "RFC 6335", `RFC-ietf-x-y-05` (a draft approved
/// for publication) → "draft-ietf-x-y-05 (on its way to becoming an RFC)", a person id → their
/// name, anything else (URLs, standards titles) as written with whitespace tidied.
fn readable_reference(id: &str) -> String {
    let id = id.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some(rest) = id.strip_prefix("RFC") {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 {
            return format!("RFC {}{}", &rest[..digits], &rest[digits..]);
        }
        if let Some(draft) = rest.strip_prefix('-') {
            return format!("draft-{draft} (on its way to becoming an RFC)");
        }
    }
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
        return format!("registry footnote {id}");
    }
    let person_like =
        id.contains('_') && !id.contains(|c: char| c.is_whitespace() || c == '/' || c == ':');
    if person_like { readable_name(&id) } else { id }
}

/// The registry rows covering `port` for `transport`, in file order.
///
/// `transport: None` returns rows for every transport; rows without a transport match any
/// transport asked for.
pub fn iana_entries(port: u16, transport: Option<Transport>) -> Vec<&'static IanaEntry> {
    iana_entries_iter(port, transport).collect()
}

/// Like [`iana_entries`], without allocating; for hot paths such as table tooltips.
pub fn iana_entries_iter(
    port: u16,
    transport: Option<Transport>,
) -> impl Iterator<Item = &'static IanaEntry> {
    let registry: &'static Registry = &REGISTRY;
    registry
        .at(port)
        .filter(move |entry| Transport::matches(entry.transport, transport))
}

/// The first assigned service name for `port` (and `transport`), for short labels.
pub fn service_name(port: u16, transport: Option<Transport>) -> Option<&'static str> {
    iana_entries_iter(port, transport)
        .filter(|entry| entry.kind == EntryKind::Assigned)
        .find_map(|entry| entry.service_name.as_deref())
}

/// How current the shipped registry is: the newest registration or modification date among
/// its rows (`YYYY-MM-DD`). IANA's CSV carries no "last updated" line of its own, and this is
/// the figure `assets/refresh-iana.sh` prints for the file it installs. `None` only when the
/// registry could not be read.
pub fn iana_data_date() -> Option<&'static str> {
    static NEWEST: LazyLock<Option<String>> = LazyLock::new(|| {
        REGISTRY
            .entries
            .iter()
            .flat_map(|e| [&e.registration_date, &e.modification_date])
            .filter_map(|date| date.as_deref())
            .filter(|date| date.len() == 10)
            .max()
            .map(str::to_owned)
    });
    NEWEST.as_deref()
}

/// Number of data rows in the registry file, including rows without a port.
pub fn iana_row_count() -> usize {
    REGISTRY.rows
}

/// Number of rows that have a port and are therefore in the port index.
pub fn iana_port_entry_count() -> usize {
    REGISTRY.entries.len()
}

/// Rows of the registry file that could not be understood and were left out.
pub fn iana_skipped_rows() -> &'static [SkippedRow] {
    &REGISTRY.skipped
}

/// Why the registry could not be used at all, if that happened.
pub fn iana_load_error() -> Option<&'static IanaLoadError> {
    REGISTRY.error.as_ref()
}

/// Parses the registry now rather than on the first lookup.
pub(crate) fn preload() {
    LazyLock::force(&REGISTRY);
}

#[cfg(test)]
mod tests {
    use super::super::csv_reader::encode;
    use super::*;

    /// Reads CSV text as the shipped file is read: decoded as the build script decodes it.
    fn parse_csv(csv: &str) -> Registry {
        Registry::parse(Box::leak(encode(csv).into_boxed_str()))
    }

    fn names(port: u16, transport: Option<Transport>) -> Vec<&'static str> {
        iana_entries(port, transport)
            .iter()
            .map(|e| e.name_or_dash())
            .collect()
    }

    #[test]
    fn shipped_registry_loads_completely() {
        assert_eq!(iana_load_error(), None);
        assert_eq!(iana_skipped_rows(), &[] as &[SkippedRow]);
        assert!(iana_row_count() >= 14_000, "{} rows", iana_row_count());
        assert!(iana_port_entry_count() >= 13_000);
        assert!(iana_port_entry_count() < iana_row_count());
    }

    /// Every entry reads as it did before the registry was read with the `csv` crate: the
    /// totals and a digest of every entry, then field for field for the entries the fixture
    /// spot-checks (see its header).
    #[test]
    fn shipped_registry_reads_as_before() {
        let fixture = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/iana-entries.txt"
        ));
        let mut lines = fixture.lines().filter(|line| !line.starts_with('#'));
        let totals = lines.next().unwrap_or_default();
        let registry = &*REGISTRY;
        let entries: Vec<String> = registry.entries.iter().map(|e| format!("{e:?}")).collect();
        let mut checked = 0;
        for line in lines {
            let (position, expected) = line.split_once('\t').unwrap_or_default();
            let position: usize = position.parse().unwrap_or(usize::MAX);
            assert_eq!(
                entries.get(position).map(String::as_str),
                Some(expected),
                "entry {position}"
            );
            checked += 1;
        }
        assert!(checked >= 300, "{checked} entries spot-checked");
        let digest = entries
            .join("\n")
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
        assert_eq!(
            format!(
                "rows {} entries {} skipped {} digest {digest:016x}",
                registry.rows,
                registry.entries.len(),
                registry.skipped.len()
            ),
            totals
        );
    }

    #[test]
    fn well_known_services() {
        assert_eq!(service_name(22, Some(Transport::Tcp)), Some("ssh"));
        assert_eq!(service_name(443, Some(Transport::Tcp)), Some("https"));
        assert_eq!(service_name(5432, Some(Transport::Tcp)), Some("postgresql"));
        assert_eq!(service_name(80, None), Some("http"));
        assert_eq!(names(53, Some(Transport::Tcp)), ["domain"]);
        assert_eq!(names(53, Some(Transport::Udp)), ["domain"]);
        assert_eq!(names(53, None), ["domain", "domain"]);
        let ssh = iana_entries(22, None);
        let transports: Vec<_> = ssh.iter().map(|e| e.transport).collect();
        assert_eq!(
            transports,
            [
                Some(Transport::Tcp),
                Some(Transport::Udp),
                Some(Transport::Sctp)
            ]
        );
    }

    #[test]
    fn several_services_can_share_a_port() {
        assert_eq!(names(80, Some(Transport::Tcp)), ["http", "www", "www-http"]);
        assert_eq!(names(3000, Some(Transport::Tcp)), ["hbci", "remoteware-cl"]);
    }

    #[test]
    fn unassigned_and_reserved_ports() {
        for port in [4, 5173] {
            let entries = iana_entries(port, Some(Transport::Tcp));
            assert!(!entries.is_empty(), "port {port}");
            assert!(
                entries.iter().all(|e| e.kind == EntryKind::Unassigned),
                "port {port}"
            );
            assert_eq!(service_name(port, Some(Transport::Tcp)), None);
        }
        for port in [0, 1023, 1024, 49151] {
            let entries = iana_entries(port, Some(Transport::Udp));
            assert!(!entries.is_empty(), "port {port}");
            assert!(
                entries.iter().all(|e| e.kind == EntryKind::Reserved),
                "port {port}"
            );
        }
        // Historic rows without a service name.
        assert_eq!(
            iana_entries(24, Some(Transport::Tcp))[0].kind,
            EntryKind::Reserved
        );
        assert_eq!(iana_entries(585, None)[0].kind, EntryKind::Unassigned);
    }

    #[test]
    fn ranges_without_transport_cover_every_port_and_transport() {
        // "272-279", no transport, Unassigned.
        for port in [272, 275, 279] {
            let entries = iana_entries(port, Some(Transport::Sctp));
            assert_eq!(entries.len(), 1, "port {port}");
            assert_eq!(entries[0].ports, PortSpan { lo: 272, hi: 279 });
            assert_eq!(entries[0].transport, None);
        }
        assert!(iana_entries(271, Some(Transport::Sctp)).is_empty());
        // x11 is registered as 6000-6063 for tcp and udp.
        assert_eq!(service_name(6010, Some(Transport::Tcp)), Some("x11"));
        assert_eq!(service_name(6063, Some(Transport::Udp)), Some("x11"));
    }

    #[test]
    fn dynamic_ports_have_no_rows() {
        for port in [49152, 60296, 65535] {
            assert!(iana_entries(port, None).is_empty(), "port {port}");
        }
    }

    #[test]
    fn readable_fields() {
        let ssh = iana_entries(22, Some(Transport::Tcp))[0];
        assert_eq!(ssh.description, "The Secure Shell (SSH) Protocol");
        assert_eq!(ssh.references.to_string(), "RFC 4251");
        assert!(ssh.assignee.is_empty());
        let discard = iana_entries(9, Some(Transport::Sctp))[0];
        assert_eq!(
            discard.assignee.iter().collect::<Vec<_>>(),
            ["Randall Stewart"]
        );
        assert_eq!(discard.assignee.raw(), "[Randall_Stewart]");
        assert_eq!(discard.modification_date.as_deref(), Some("2022-02-07"));
        assert_eq!(discard.references.iter().collect::<Vec<_>>(), ["RFC 9260"]);
        let echo = iana_entries(7, Some(Transport::Tcp))[0];
        assert_eq!(echo.contact.to_string(), "Jon Postel");
        let two = Names(Cow::Borrowed("[Vera_Heinau][Heiko_Schlichting]"));
        assert_eq!(two.to_string(), "Vera Heinau, Heiko Schlichting");
        let refs = References(Cow::Borrowed("[RFC793][RFC9293]"));
        assert_eq!(refs.to_string(), "RFC 793; RFC 9293");
        assert_eq!(
            serde_json::to_string(&refs).ok().as_deref(),
            Some(r#"["RFC 793","RFC 9293"]"#)
        );
    }

    #[test]
    fn references_render() {
        assert_eq!(readable_reference("RFC6335"), "RFC 6335");
        assert_eq!(
            readable_reference("RFC4960, Section 3.2"),
            "RFC 4960, Section 3.2"
        );
        assert_eq!(readable_reference("Jon_Postel"), "Jon Postel");
        assert_eq!(readable_reference("Bob_Braden_2"), "Bob Braden");
        assert_eq!(readable_reference("1"), "registry footnote 1");
        assert_eq!(
            readable_reference("RFC-ietf-rift-rift-24"),
            "draft-ietf-rift-rift-24 (on its way to becoming an RFC)"
        );
        assert_eq!(
            readable_reference("https://example.org/a_b"),
            "https://example.org/a_b"
        );
        assert_eq!(readable_reference("ITU-T  X.690\n"), "ITU-T X.690");
        let items: Vec<_> = bracketed_items("[RFC793][RFC9293]")
            .map(readable_reference)
            .collect();
        assert_eq!(items, ["RFC 793", "RFC 9293"]);
        let items: Vec<_> = bracketed_items(" loose [Jon_Postel] [] [IANA").collect();
        assert_eq!(items, ["loose", "Jon_Postel", "IANA"]);
        assert_eq!(readable_name("Wi-Fi_Alliance_4"), "Wi-Fi Alliance");
        assert_eq!(readable_name("IANA"), "IANA");
    }

    #[test]
    fn quoted_fields_with_newlines_and_quotes_survive() {
        let csv = concat!(
            "Service Name,Port Number,Transport Protocol,Description,Assignee,Contact,",
            "Registration Date,Modification Date,Reference,Service Code,",
            "Unauthorized Use Reported,Assignment Notes\r\n",
            "foo,7,tcp,\"Say \"\"hi\"\"\",[A_B],[A_B],2011-08-01,,[RFC6335],,,\"line one\nline two\"\r\n",
            ",8-9,,Unassigned,,,,,,,,\r\n",
            "noport,,,Nothing,,,,,,,,\r\n",
            "bad,70000,tcp,x,,,,,,,,\r\n",
            "short,1,tcp\r\n",
            "odd,10,icmp,x,,,,,,,,\r\n",
        );
        let registry = parse_csv(csv);
        assert_eq!(registry.error, None);
        assert_eq!(registry.rows, 6);
        assert_eq!(registry.entries.len(), 2);
        assert_eq!(registry.skipped.len(), 3, "{:?}", registry.skipped);
        let foo: Vec<_> = registry.at(7).collect();
        assert_eq!(foo[0].description, "Say \"hi\"");
        assert_eq!(
            foo[0].assignment_notes.as_deref(),
            Some("line one\nline two")
        );
        assert_eq!(foo[0].registration_date.as_deref(), Some("2011-08-01"));
        assert_eq!(foo[0].references.to_string(), "RFC 6335");
        assert_eq!(foo[0].assignee.to_string(), "A B");
        let lines: Vec<u64> = registry.skipped.iter().map(|s| s.line).collect();
        assert_eq!(lines, [6, 7, 8]);
        assert_eq!(registry.at(9).count(), 1);
        assert_eq!(registry.at(10).count(), 0);
    }

    #[test]
    fn byte_order_mark_and_plain_newlines_are_accepted() {
        let csv = concat!(
            "\u{feff}Service Name,Port Number,Transport Protocol,Description,Assignee,Contact,",
            "Registration Date,Modification Date,Reference,Service Code,",
            "Unauthorized Use Reported,Assignment Notes\n",
            "ssh,22,tcp,SSH,,,,,,,,\n",
        );
        let registry = parse_csv(csv);
        assert_eq!(registry.error, None);
        assert_eq!(registry.at(22).count(), 1);
    }

    #[test]
    fn wrong_header_is_reported() {
        let registry = parse_csv("a,b,c\n1,2,3\n");
        assert!(matches!(
            registry.error,
            Some(IanaLoadError::UnexpectedHeader { .. })
        ));
        assert_eq!(registry.at(1).count(), 0);
    }

    /// Hostile registry files through the whole load: 5,000 files of the right header and rows
    /// made of CSV syntax, digits and registry words. Nothing panics, and every row left out
    /// is reported with a reason and the line it starts on. The seed is fixed.
    #[test]
    fn hostile_registry_files_report_each_row_left_out_with_its_line() {
        use proptest::prelude::*;
        use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

        let config = Config {
            cases: 5_000,
            failure_persistence: None,
            ..Config::default()
        };
        let mut runner =
            TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
        let body = prop::collection::vec(
            prop::sample::select(vec![
                ",",
                ",,,,,,,,,,",
                "\"",
                "\"\"",
                "\r\n",
                "\n",
                "\r",
                "ssh",
                "22",
                "6000-6063",
                "70000",
                "5-3",
                "tcp",
                "udp",
                "icmp",
                "[Jon_Postel]",
                "Reserved",
                "é",
                " ",
            ]),
            0..120,
        )
        .prop_map(|pieces| pieces.concat());
        runner
            .run(&body, |body| {
                let text = format!("{}\r\n{body}", EXPECTED_HEADER.join(","));
                let max_line = 1 + text.bytes().filter(|&b| b == b'\n').count() as u64;
                let registry = parse_csv(&text);
                prop_assert_eq!(&registry.error, &None);
                prop_assert!(registry.rows >= registry.entries.len() + registry.skipped.len());
                // Data starts on line 2; a lone CR ends a record without starting a line.
                let mut last = 2;
                for row in &registry.skipped {
                    prop_assert!(!row.reason.trim().is_empty(), "no reason: {:?}", row);
                    prop_assert!(row.line >= last && row.line <= max_line, "{:?}", row);
                    last = row.line;
                }
                Ok(())
            })
            .unwrap();
    }
}
