//! [`JsonFileStore`]: a [`ConfigStore`] in one JSON file, locked against other processes.

use std::ffi::OsString;
use std::fmt;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;

use super::router_lock::RouterLocks;
use super::state::StoreState;
use crate::model::{
    AlertUid, AuditEntry, AuditFilter, CiMapping, CiMappingName, CiRecord, DeviceId,
    IntegrationMode, OrganizationId, SyncConfig, TicketRecord, TicketTemplate, TicketTemplateName,
};
use crate::ports::{ConfigStore, RouterGuard, StoreError, StoreErrorKind, WriteBatch};

/// The schema number this version writes and the newest it reads.
///
/// 2 added `ticket_templates` (and a configuration's `ticket_template`); a schema 1 file is
/// read as a schema 2 file without templates and written back as schema 2 by the next write.
const SCHEMA: u64 = 2;

/// The oldest schema this version reads (and upgrades on its next write).
const OLDEST_SCHEMA: u64 = 1;

/// A [`ConfigStore`] that keeps everything in one JSON file, for hosts that need no database.
///
/// # The file
/// `{"schema": 2, "mode": …, "configs": […], "ci_mappings": […], "ticket_templates": […],
/// "audit": […], …}`, pretty-printed so a person can read it. A file of an older schema (1,
/// without ticket templates) is read and upgraded: the next write saves it as schema 2, which
/// older versions refuse as newer. A missing file is an empty store; the file is created by the first
/// write (its directory must exist).
///
/// # Locking
/// [`open`](Self::open) takes an exclusive operating-system lock on a sidecar file
/// `<path>.lock` (not on the data file, which each write replaces) and holds it until the store
/// is dropped. A second `open` of the same file — from another process or from this one — is
/// refused with [`StoreErrorKind::Locked`]. The kernel releases the lock when the process dies,
/// so a crash never leaves the file locked. The lock file itself is left in place.
///
/// The lock belongs to the open file, which a child process shares from the moment it is
/// spawned until it starts its own program. A host that spawns processes may therefore see
/// `Locked` when it reopens a file right after dropping its store, while a spawn is under way;
/// trying again a moment later succeeds.
///
/// # Durability
/// Each write serializes the whole state, writes it to `.<name>.tmp` in the same directory,
/// syncs it to disk, renames it over the data file and syncs the directory. A crash at any
/// point leaves either the old or the new file, never a mix; a stray temporary file left by a
/// crash is ignored (and later overwritten). The in-memory state changes only after the rename,
/// so a failed write — reported as [`StoreErrorKind::Unavailable`] — changes nothing that later
/// reads see. Writes that change nothing (an empty batch, setting the current mode) do not
/// touch the file.
///
/// # Permissions
/// On Unix the data file and its temporary file are created with mode 0600 (owner read and
/// write only; the umask can only narrow it) and the temporary file is set to 0600 before
/// anything is written to it, so every write leaves the data file 0600 — including one made
/// readable by hand or by an earlier version of this crate. The file holds the tenant's
/// topology and the audit trail; give other readers a copy, not the file. The lock file is
/// created 0600 too. Elsewhere the platform's defaults apply. The temporary file is created
/// afresh on every write (exclusively, after removing whatever was left at its path): a
/// symlink planted there is replaced, never written through.
///
/// # Damaged files
/// A file that cannot be read, is not complete JSON, or was written by a newer version (a
/// higher `schema`) is refused with [`StoreErrorKind::Corrupt`] naming it, and left untouched:
/// this store never overwrites or resets a file it could not read.
///
/// # Blocking
/// File I/O is synchronous inside the async methods: the file is small and a write takes one
/// `fsync`, so the calls block the executor thread briefly rather than depend on a runtime.
/// Every write rewrites the whole file, audit log included; hosts with a large audit log should
/// use a database-backed store.
///
/// ```
/// use chrono::Utc;
/// use ninjaone_servicenow::model::{OrganizationId, SyncConfig};
/// use ninjaone_servicenow::ports::{ConfigStore, StoreErrorKind};
/// use ninjaone_servicenow::store::JsonFileStore;
///
/// # futures::executor::block_on(async {
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("sync.json");
/// let store = JsonFileStore::open(&path)?;
/// let config = SyncConfig::new(OrganizationId::new(2)?, None, Utc::now());
/// store.write_config(config).await?;
///
/// // While `store` is open, nobody else can open the file.
/// assert_eq!(JsonFileStore::open(&path).unwrap_err().kind(), StoreErrorKind::Locked);
///
/// drop(store);
/// let reopened = JsonFileStore::open(&path)?;
/// assert_eq!(reopened.configs().await?.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct JsonFileStore {
    path: PathBuf,
    temp: PathBuf,
    state: Mutex<StoreState>,
    routers: RouterLocks,
    /// Held open for the store's lifetime: closing it releases the lock.
    _lock: File,
}

impl JsonFileStore {
    /// Opens (or prepares to create) the store file at `path` and locks it.
    ///
    /// # Errors
    /// - [`StoreErrorKind::Locked`] when another process, or another open store in this
    ///   process, holds the file;
    /// - [`StoreErrorKind::Corrupt`] when the file exists but cannot be read, is not complete
    ///   JSON, does not hold a store's state, or has a newer schema; the file is left untouched;
    /// - [`StoreErrorKind::Unavailable`] when the lock file cannot be created (for example the
    ///   directory does not exist);
    /// - [`StoreErrorKind::Invalid`] when `path` does not name a file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let lock_path = sibling(&path, "", ".lock")?;
        let temp = sibling(&path, ".", ".tmp")?;
        let lock = lock(&path, &lock_path)?;
        let state = read_state(&path)?;
        Ok(Self {
            path,
            temp,
            state: Mutex::new(state),
            routers: RouterLocks::default(),
            _lock: lock,
        })
    }

    /// The data file's path, as given to [`open`](Self::open).
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The state, even if a thread panicked while holding it: the state is replaced only as a
    /// whole, after the file was written, so it is always consistent.
    fn state(&self) -> MutexGuard<'_, StoreState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `change` on a copy of the state; when it reports a change, saves the copy to the file
    /// and only then makes it the state. The lock is held throughout, so writes are serialized.
    fn update<T>(
        &self,
        change: impl FnOnce(&mut StoreState) -> Result<(T, bool), StoreError>,
    ) -> Result<T, StoreError> {
        let mut state = self.state();
        let mut next = state.clone();
        let (value, changed) = change(&mut next)?;
        if changed {
            self.save(&next)?;
            *state = next;
        }
        Ok(value)
    }

    /// Writes `state` to the temporary file, syncs it, renames it over the data file and syncs
    /// the directory.
    fn save(&self, state: &StoreState) -> Result<(), StoreError> {
        let mut bytes = serde_json::to_vec_pretty(&FileContents {
            schema: SCHEMA,
            state,
        })
        .map_err(|e| {
            unavailable(
                &self.path,
                "the state could not be serialized; nothing was written",
                e,
            )
        })?;
        bytes.push(b'\n');

        if let Err(e) = write_synced(&self.temp, &bytes) {
            // Best effort: a stray temporary file is harmless, the next write replaces it.
            let _ = fs::remove_file(&self.temp);
            return Err(unavailable(
                &self.path,
                &format!(
                    "writing the temporary file {} failed; the store is unchanged, try again once \
                     the directory is writable",
                    self.temp.display()
                ),
                e,
            ));
        }
        if let Err(e) = fs::rename(&self.temp, &self.path) {
            let _ = fs::remove_file(&self.temp);
            return Err(unavailable(
                &self.path,
                &format!(
                    "renaming {} over it failed; the store is unchanged, try again",
                    self.temp.display()
                ),
                e,
            ));
        }
        sync_dir(&self.path).map_err(|e| {
            unavailable(
                &self.path,
                "syncing its directory after the rename failed, so the write may not survive a \
                 power loss; the write is reported as failed, read again and retry",
                e,
            )
        })
    }
}

impl fmt::Debug for JsonFileStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonFileStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl ConfigStore for JsonFileStore {
    async fn configs(&self) -> Result<Vec<SyncConfig>, StoreError> {
        Ok(self.state().configs())
    }

    async fn config(&self, organization: OrganizationId) -> Result<Option<SyncConfig>, StoreError> {
        Ok(self.state().config(organization))
    }

    async fn configs_of(
        &self,
        organizations: &[OrganizationId],
    ) -> Result<Vec<SyncConfig>, StoreError> {
        Ok(self.state().configs_of(organizations))
    }

    async fn write(&self, batch: WriteBatch) -> Result<Vec<SyncConfig>, StoreError> {
        self.update(|state| {
            let changed = !batch.is_empty();
            state.apply(batch).map(|stored| (stored, changed))
        })
    }

    async fn mode(&self) -> Result<IntegrationMode, StoreError> {
        Ok(self.state().mode())
    }

    async fn set_mode(&self, mode: IntegrationMode) -> Result<(), StoreError> {
        self.update(|state| Ok(((), state.set_mode(mode))))
    }

    async fn ci_mappings(&self) -> Result<Vec<CiMapping>, StoreError> {
        Ok(self.state().ci_mappings())
    }

    async fn put_ci_mapping(&self, mapping: CiMapping) -> Result<(), StoreError> {
        self.update(|state| Ok(((), state.put_ci_mapping(mapping))))
    }

    async fn delete_ci_mapping(&self, name: &CiMappingName) -> Result<bool, StoreError> {
        self.update(|state| {
            let deleted = state.delete_ci_mapping(name);
            Ok((deleted, deleted))
        })
    }

    async fn ticket_templates(&self) -> Result<Vec<TicketTemplate>, StoreError> {
        Ok(self.state().ticket_templates())
    }

    async fn put_ticket_template(&self, template: TicketTemplate) -> Result<(), StoreError> {
        self.update(|state| Ok(((), state.put_ticket_template(template))))
    }

    async fn delete_ticket_template(&self, name: &TicketTemplateName) -> Result<bool, StoreError> {
        self.update(|state| {
            let deleted = state.delete_ticket_template(name);
            Ok((deleted, deleted))
        })
    }

    async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(self.state().audit(filter))
    }

    async fn ticket_records(&self) -> Result<Vec<TicketRecord>, StoreError> {
        Ok(self.state().ticket_records())
    }

    async fn ticket_record(&self, alert: &AlertUid) -> Result<Option<TicketRecord>, StoreError> {
        Ok(self.state().ticket_record(alert))
    }

    async fn write_ticket_records(
        &self,
        put: Vec<TicketRecord>,
        remove: Vec<AlertUid>,
    ) -> Result<(), StoreError> {
        self.update(|state| Ok(((), state.write_ticket_records(put, &remove)?)))
    }

    /// A flag in this store; other processes cannot open the file while this store holds
    /// its file lock, so the flag covers every router on the file.
    async fn lock_router(
        &self,
        integration_id: &str,
    ) -> Result<Option<Box<dyn RouterGuard>>, StoreError> {
        Ok(self.routers.try_lock(integration_id))
    }

    async fn ci_records(&self) -> Result<Vec<CiRecord>, StoreError> {
        Ok(self.state().ci_records())
    }

    async fn ci_record(&self, device: DeviceId) -> Result<Option<CiRecord>, StoreError> {
        Ok(self.state().ci_record(device))
    }

    async fn write_ci_records(
        &self,
        put: Vec<CiRecord>,
        remove: Vec<DeviceId>,
    ) -> Result<(), StoreError> {
        self.update(|state| Ok(((), state.write_ci_records(put, &remove)?)))
    }
}

/// What the file holds: the schema number, then the state's fields.
#[derive(Serialize)]
struct FileContents<'a> {
    schema: u64,
    #[serde(flatten)]
    state: &'a StoreState,
}

/// `<dir>/<prefix><file name><suffix>` next to `path`.
fn sibling(path: &Path, prefix: &str, suffix: &str) -> Result<PathBuf, StoreError> {
    let name = path.file_name().ok_or_else(|| {
        StoreError::new(
            StoreErrorKind::Invalid,
            format!(
                "the store path {} does not name a file; give a path such as sync.json",
                path.display()
            ),
        )
    })?;
    let mut sibling = OsString::from(prefix);
    sibling.push(name);
    sibling.push(suffix);
    Ok(path.with_file_name(sibling))
}

/// Creates (if needed) and exclusively locks the lock file; the returned handle holds the lock.
fn lock(path: &Path, lock_path: &Path) -> Result<File, StoreError> {
    let file = owner_only(
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false),
    )
    .open(lock_path)
    .map_err(|e| {
        StoreError::new(
            StoreErrorKind::Unavailable,
            format!(
                "could not create the lock file {} for the store file {}; check that the \
                     directory exists and is writable",
                lock_path.display(),
                path.display()
            ),
        )
        .with_source(e)
    })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(StoreError::new(
            StoreErrorKind::Locked,
            format!(
                "the store file {} is in use by another process (or another open store in this \
                 one), which holds its lock file {}; stop the other user or use another file",
                path.display(),
                lock_path.display()
            ),
        )),
        Err(TryLockError::Error(e)) => Err(StoreError::new(
            StoreErrorKind::Unavailable,
            format!(
                "could not lock {} for the store file {}; the file system may not support locks",
                lock_path.display(),
                path.display()
            ),
        )
        .with_source(e)),
    }
}

/// Reads the state from `path`: empty when the file does not exist, a `Corrupt` error when it
/// exists but cannot be used.
fn read_state(path: &Path) -> Result<StoreState, StoreError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(StoreState::default()),
        Err(e) => return Err(corrupt(path, "could not be read").with_source(e)),
    };
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
        let what = if e.is_eof() {
            "ends in the middle of its JSON (it looks truncated)"
        } else {
            "is not valid JSON"
        };
        let what = format!("{what} at line {}, column {}", e.line(), e.column());
        corrupt(path, &what).with_source(e)
    })?;
    let Value::Object(mut object) = value else {
        return Err(corrupt(path, "does not hold a JSON object"));
    };
    match object.remove("schema") {
        // Schema 1 differs only by what it lacks (ticket templates), which reads as empty.
        Some(Value::Number(n))
            if n.as_u64()
                .is_some_and(|v| (OLDEST_SCHEMA..=SCHEMA).contains(&v)) => {}
        Some(Value::Number(n)) if n.as_u64().is_some_and(|v| v > SCHEMA) => {
            return Err(corrupt(
                path,
                &format!(
                    "was written by a newer version (schema {n}; this version reads schema \
                     {SCHEMA}); upgrade this program"
                ),
            ));
        }
        Some(other) => {
            return Err(corrupt(
                path,
                &format!("has an unknown schema {other}; expected {OLDEST_SCHEMA} to {SCHEMA}"),
            ));
        }
        None => return Err(corrupt(path, "has no schema number")),
    }
    // The detail goes into the message (a person fixing the file needs it), so it is not
    // attached as the source as well.
    serde_json::from_value(Value::Object(object))
        .map_err(|e| corrupt(path, &format!("does not hold a valid store state ({e})")))
}

/// A `Corrupt` error: the file `what`, and was left untouched.
fn corrupt(path: &Path, what: &str) -> StoreError {
    StoreError::new(
        StoreErrorKind::Corrupt,
        format!(
            "the store file {} {what}; it was left untouched: inspect or restore it, then open \
             the store again",
            path.display()
        ),
    )
}

/// An `Unavailable` error about saving the file at `path`.
fn unavailable(
    path: &Path,
    what: &str,
    source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> StoreError {
    StoreError::new(
        StoreErrorKind::Unavailable,
        format!("could not save the store file {}: {what}", path.display()),
    )
    .with_source(source)
}

/// Creates `path` afresh, owner-only (0600 on Unix), writes `bytes` and syncs them to disk.
///
/// Whatever was left at `path` (a stray temporary file of another mode, or a symlink someone
/// planted there) is removed first and the file is created exclusively (`O_EXCL`, which never
/// follows a symlink): the state is never written through a link into another file.
fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut file = owner_only(OpenOptions::new().write(true).create_new(true)).open(path)?;
    restrict(&file)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Files this store creates are readable and writable by their owner only: they hold the
/// tenant's topology and the audit trail.
#[cfg(unix)]
fn owner_only(options: &mut OpenOptions) -> &mut OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    options.mode(0o600)
}

#[cfg(not(unix))]
fn owner_only(options: &mut OpenOptions) -> &mut OpenOptions {
    options
}

/// Sets 0600 on an open file (the mode given at creation does not apply to a file that already
/// existed), before anything is written to it.
#[cfg(unix)]
fn restrict(file: &File) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
#[allow(clippy::unnecessary_wraps)]
fn restrict(_file: &File) -> io::Result<()> {
    Ok(())
}

/// Syncs the directory holding `path`, so a rename in it survives a power loss.
#[cfg(unix)]
fn sync_dir(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

/// Directories cannot be opened for syncing here; the rename is as durable as the platform
/// makes it.
#[cfg(not(unix))]
#[allow(clippy::unnecessary_wraps)]
fn sync_dir(_path: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests;
