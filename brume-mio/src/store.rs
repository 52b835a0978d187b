//! The hub's own storage: users (with argon2 password hashes), groups and
//! memberships in an embedded SQLite database, and the token signing key in a
//! file beside it. Both are created on first use, private to their owner: the
//! folder 0700, the key, the database and SQLite's files beside it 0600.
//!
//! Owns: the data directory's files. Never: protocol decisions (the `Hub`
//! decides who may log in with a token; this only answers who exists).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use brume_proto::signal::{GroupId, GroupName, UserName};
use brume_proto::token::TokenKey;
use rusqlite::{Connection, OptionalExtension, params};

/// The database file under the data directory.
pub const DB_FILE: &str = "brume.db";
/// The signing key file under the data directory.
pub const KEY_FILE: &str = "hub.key";
/// Where the key of a database that is gone is set aside.
pub const RETIRED_KEY_FILE: &str = "hub.key.retired";
/// The lock file a running hub holds under the data directory.
pub const LOCK_FILE: &str = "brume.lock";
/// What SQLite keeps beside the database, as suffixes of its name.
const DB_SIBLINGS: [&str; 3] = ["-wal", "-shm", "-journal"];

/// One user as `brume user list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    /// The name.
    pub name: UserName,
    /// The e-mail address, if one was given.
    pub email: Option<String>,
    /// Creation time, Unix seconds.
    pub created: u64,
}

/// The hub's users and groups.
#[derive(Debug)]
pub struct Store {
    db: Connection,
    dir: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the store under `dir`: for `serve`, and
    /// `user add`, which is how a hub is set up before its first start.
    pub fn open(dir: &Path) -> Result<Self> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
        let path = dir.join(DB_FILE);
        let key = dir.join(KEY_FILE);
        if !path.exists() && key.exists() {
            // A new database means new accounts: a key left from the old one
            // would let its tokens in (generations start again at 0). It is
            // set aside, not deleted, and a new one is made on first use.
            let retired = dir.join(RETIRED_KEY_FILE);
            fs::rename(&key, &retired)
                .with_context(|| format!("cannot retire the old key {}", key.display()))?;
        }
        // SQLite gives its -wal, -shm and -journal files the database's
        // mode, so a database made 0600 here keeps them private too.
        fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("cannot create the database {}", path.display()))?;
        make_private(dir)?;
        Self::connect(dir, &path)
    }

    /// Opens the store under `dir`, refusing a folder that holds no
    /// database (a mistyped `--data` must not become an empty hub).
    pub fn open_existing(dir: &Path) -> Result<Self> {
        let path = dir.join(DB_FILE);
        if !path.is_file() {
            bail!(
                "no hub database in {} ({DB_FILE} is missing): check --data, or set the hub up \
                 with `brume user add` or `brume serve`",
                dir.display()
            );
        }
        make_private(dir)?;
        Self::connect(dir, &path)
    }

    fn connect(dir: &Path, path: &Path) -> Result<Self> {
        let db = Connection::open(path)
            .with_context(|| format!("cannot open the database {}", path.display()))?;
        db.busy_timeout(std::time::Duration::from_secs(5))?;
        db.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE IF NOT EXISTS users (
                 name TEXT PRIMARY KEY,
                 email TEXT,
                 password TEXT NOT NULL,
                 created INTEGER NOT NULL
             );
             -- Token generations outlive their users, so that a name
             -- removed and added again never honours the old tokens.
             CREATE TABLE IF NOT EXISTS generations (
                 name TEXT PRIMARY KEY,
                 generation INTEGER NOT NULL
             );
             INSERT OR IGNORE INTO generations (name, generation) SELECT name, 0 FROM users;
             CREATE TABLE IF NOT EXISTS members (
                 owner TEXT NOT NULL,
                 grp TEXT NOT NULL,
                 member TEXT NOT NULL,
                 PRIMARY KEY (owner, grp, member)
             );
             -- One row per direction: `user` calls `contact` `alias`.
             CREATE TABLE IF NOT EXISTS contacts (
                 user TEXT NOT NULL,
                 contact TEXT NOT NULL,
                 alias TEXT NOT NULL,
                 PRIMARY KEY (user, contact)
             );
             -- Claimed invitations, kept until they would have expired.
             CREATE TABLE IF NOT EXISTS claimed_invitations (
                 id TEXT PRIMARY KEY,
                 expires_at INTEGER NOT NULL
             );",
        )
        .with_context(|| format!("cannot set up the database {}", path.display()))?;
        // The WAL files exist now: tighten any left by an older version.
        make_private(dir)?;
        Ok(Self {
            db,
            dir: dir.to_owned(),
        })
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The token signing key, generated (from OS randomness) on first use.
    pub fn signing_key(&self) -> Result<TokenKey> {
        let path = self.dir.join(KEY_FILE);
        let secret = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut secret = vec![0u8; 32];
                getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("randomness: {e}"))?;
                match fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&path)
                {
                    Ok(mut f) => {
                        f.write_all(&secret)?;
                        f.sync_all()?;
                        secret
                    }
                    // Another process made it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => fs::read(&path)?,
                    Err(e) => {
                        return Err(e).with_context(|| format!("cannot write {}", path.display()));
                    }
                }
            }
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        TokenKey::from_secret(&secret)
            .with_context(|| format!("{} holds a key shorter than 32 bytes", path.display()))
    }

    /// Takes the data directory for one hub: an exclusive `flock` on
    /// [`LOCK_FILE`], held while the returned file is open and released by
    /// the kernel however the process ends (SIGKILL included). A second hub
    /// on the same folder gets a clear error naming the first one's pid.
    pub fn lock_for_hub(&self) -> Result<fs::File> {
        use fs4::fs_std::FileExt;
        let path = self.dir.join(LOCK_FILE);
        let mut file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("cannot open the lock file {}", path.display()))?;
        let locked = FileExt::try_lock_exclusive(&file)
            .with_context(|| format!("cannot lock {}", path.display()))?;
        if !locked {
            let holder = fs::read_to_string(&path).unwrap_or_default();
            let holder = holder.trim();
            let who = if holder.is_empty() {
                String::new()
            } else {
                format!(" (pid {holder})")
            };
            bail!(
                "another brume serve{who} is using the data folder {}",
                self.dir.display()
            );
        }
        // Who holds it, for the error above; the lock itself is the flock.
        file.set_len(0)?;
        write!(file, "{}", std::process::id())?;
        Ok(file)
    }

    /// Changes whenever another connection commits: a cheap "did anything change".
    pub fn data_version(&self) -> Result<i64> {
        Ok(self.db.query_row("PRAGMA data_version", [], |r| r.get(0))?)
    }

    /// Adds a user with an already hashed password; returns their token
    /// generation (0 for a new name, one more than last time for a name
    /// that existed before).
    pub fn add_user_hashed(
        &self,
        name: &UserName,
        email: Option<&str>,
        hash: &str,
        now: u64,
    ) -> Result<u64> {
        let tx = self.db.unchecked_transaction()?;
        let n = tx.execute(
            "INSERT OR IGNORE INTO users (name, email, password, created) VALUES (?1, ?2, ?3, ?4)",
            params![name.as_str(), email, hash, now as i64],
        )?;
        if n == 0 {
            bail!("user {name} already exists");
        }
        let generation = new_generation(&tx, name)?;
        tx.commit()?;
        Ok(generation)
    }

    /// Adds a user, hashing the password with argon2; returns their token generation.
    pub fn add_user(
        &self,
        name: &UserName,
        email: Option<&str>,
        password: &str,
        now: u64,
    ) -> Result<u64> {
        self.add_user_hashed(name, email, &hash_password(password)?, now)
    }

    /// Adds many users with already hashed passwords in one transaction;
    /// names that exist are skipped. Returns how many were added.
    pub fn add_users_hashed(&mut self, users: &[(UserName, String)], now: u64) -> Result<usize> {
        let tx = self.db.transaction()?;
        let mut added = 0;
        for (name, hash) in users {
            let n = tx.execute(
                "INSERT OR IGNORE INTO users (name, email, password, created) VALUES (?1, NULL, ?2, ?3)",
                params![name.as_str(), hash, now as i64],
            )?;
            if n > 0 {
                new_generation(&tx, name)?;
            }
            added += n;
        }
        tx.commit()?;
        Ok(added)
    }

    /// Removes a user and their memberships; false if there was none. Their
    /// generation stays, so their tokens never work for a later namesake.
    pub fn remove_user(&self, name: &UserName) -> Result<bool> {
        let tx = self.db.unchecked_transaction()?;
        let n = tx.execute("DELETE FROM users WHERE name = ?1", [name.as_str()])?;
        tx.execute(
            "DELETE FROM members WHERE owner = ?1 OR member = ?1",
            [name.as_str()],
        )?;
        tx.execute(
            "DELETE FROM contacts WHERE user = ?1 OR contact = ?1",
            [name.as_str()],
        )?;
        tx.commit()?;
        Ok(n > 0)
    }

    /// Replaces a user's password and revokes every token of theirs; their
    /// new generation, or `None` if there is no such user.
    pub fn set_password(&self, name: &UserName, password: &str) -> Result<Option<u64>> {
        let hash = hash_password(password)?;
        let tx = self.db.unchecked_transaction()?;
        let n = tx.execute(
            "UPDATE users SET password = ?2 WHERE name = ?1",
            params![name.as_str(), hash],
        )?;
        if n == 0 {
            return Ok(None);
        }
        let generation = new_generation(&tx, name)?;
        tx.commit()?;
        Ok(Some(generation))
    }

    /// Revokes every token of a user, keeping the password; their new
    /// generation, or `None` if there is no such user.
    pub fn revoke(&self, name: &UserName) -> Result<Option<u64>> {
        let tx = self.db.unchecked_transaction()?;
        let exists: Option<i64> = tx
            .query_row(
                "SELECT 1 FROM users WHERE name = ?1",
                [name.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        if exists.is_none() {
            return Ok(None);
        }
        let generation = new_generation(&tx, name)?;
        tx.commit()?;
        Ok(Some(generation))
    }

    /// Every user with their token generation, sorted by name.
    pub fn user_generations(&self) -> Result<BTreeMap<UserName, u64>> {
        let mut stmt = self.db.prepare(
            "SELECT users.name, COALESCE(generations.generation, 0) FROM users \
             LEFT JOIN generations ON generations.name = users.name",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        let mut out = BTreeMap::new();
        for row in rows {
            let (name, generation) = row?;
            // A row edited by hand into an illegal name is skipped, not fatal.
            if let Ok(name) = UserName::new(name) {
                out.insert(name, generation.max(0) as u64);
            }
        }
        Ok(out)
    }

    /// Every user, sorted by name.
    pub fn users(&self) -> Result<Vec<UserRow>> {
        let mut stmt = self
            .db
            .prepare("SELECT name, email, created FROM users ORDER BY name")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (name, email, created) = row?;
            // A row edited by hand into an illegal name is skipped, not fatal.
            if let Ok(name) = UserName::new(name) {
                out.push(UserRow {
                    name,
                    email,
                    created: created.max(0) as u64,
                });
            }
        }
        Ok(out)
    }

    /// Every user name.
    pub fn user_names(&self) -> Result<BTreeSet<UserName>> {
        Ok(self.users()?.into_iter().map(|u| u.name).collect())
    }

    /// A user's password hash.
    pub fn password_hash(&self, name: &str) -> Result<Option<String>> {
        Ok(self
            .db
            .query_row("SELECT password FROM users WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Every group with its members, sorted.
    pub fn groups(&self) -> Result<Vec<(GroupId, Vec<UserName>)>> {
        let mut stmt = self
            .db
            .prepare("SELECT owner, grp, member FROM members ORDER BY owner, grp, member")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        let mut out: Vec<(GroupId, Vec<UserName>)> = Vec::new();
        for row in rows {
            let (owner, grp, member) = row?;
            let (Ok(owner), Ok(name), Ok(member)) = (
                UserName::new(owner),
                GroupName::new(grp),
                UserName::new(member),
            ) else {
                continue;
            };
            let id = GroupId { owner, name };
            match out.last_mut() {
                Some((last, members)) if *last == id => members.push(member),
                _ => out.push((id, vec![member])),
            }
        }
        Ok(out)
    }

    /// Every contact, as (user, contact, alias), sorted.
    pub fn contacts(&self) -> Result<Vec<(UserName, UserName, String)>> {
        let mut stmt = self
            .db
            .prepare("SELECT user, contact, alias FROM contacts ORDER BY user, contact")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (user, contact, alias) = row?;
            if let (Ok(user), Ok(contact)) = (UserName::new(user), UserName::new(contact)) {
                out.push((user, contact, alias));
            }
        }
        Ok(out)
    }

    /// `user` now calls `contact` `alias`.
    pub fn set_contact(&self, user: &UserName, contact: &UserName, alias: &str) -> Result<()> {
        self.db.execute(
            "INSERT OR REPLACE INTO contacts (user, contact, alias) VALUES (?1, ?2, ?3)",
            params![user.as_str(), contact.as_str(), alias],
        )?;
        Ok(())
    }

    /// Claimed invitations not yet expired at `now` (Unix seconds); older
    /// ones are deleted.
    pub fn claimed_invitations(&self, now: u64) -> Result<Vec<(String, u64)>> {
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        self.db.execute(
            "DELETE FROM claimed_invitations WHERE expires_at <= ?1",
            [now],
        )?;
        let mut stmt = self
            .db
            .prepare("SELECT id, expires_at FROM claimed_invitations ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, exp) = row?;
            out.push((id, u64::try_from(exp).unwrap_or(0)));
        }
        Ok(out)
    }

    /// Remembers a claimed invitation until it expires.
    pub fn claim_invitation(&self, id: &str, expires_at: u64) -> Result<()> {
        self.db.execute(
            "INSERT OR REPLACE INTO claimed_invitations (id, expires_at) VALUES (?1, ?2)",
            params![id, i64::try_from(expires_at).unwrap_or(i64::MAX)],
        )?;
        Ok(())
    }

    /// Replaces a group's membership (empty deletes the group).
    pub fn set_group(&mut self, group: &GroupId, members: &[UserName]) -> Result<()> {
        let tx = self.db.transaction()?;
        tx.execute(
            "DELETE FROM members WHERE owner = ?1 AND grp = ?2",
            params![group.owner.as_str(), group.name.as_str()],
        )?;
        for m in members {
            tx.execute(
                "INSERT OR IGNORE INTO members (owner, grp, member) VALUES (?1, ?2, ?3)",
                params![group.owner.as_str(), group.name.as_str(), m.as_str()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}

/// Moves `name` to a generation of tokens none of theirs was minted at:
/// 0 for a name never seen, else one more. Returns it.
fn new_generation(tx: &rusqlite::Transaction<'_>, name: &UserName) -> Result<u64> {
    let generation: i64 = tx.query_row(
        "INSERT INTO generations (name, generation) VALUES (?1, 0) \
         ON CONFLICT (name) DO UPDATE SET generation = generation + 1 \
         RETURNING generation",
        [name.as_str()],
        |r| r.get(0),
    )?;
    Ok(generation.max(0) as u64)
}

/// Takes group and other permissions off the data folder, the database and
/// the files beside it, and the key: folders made by older versions were
/// 0755 with a 0644 database, which holds password hashes and e-mails.
fn make_private(dir: &Path) -> Result<()> {
    let tighten = |path: &Path, mode: u32| -> Result<()> {
        let meta = match fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e).with_context(|| format!("cannot stat {}", path.display())),
        };
        if meta.permissions().mode() & 0o077 != 0 {
            fs::set_permissions(path, fs::Permissions::from_mode(mode))
                .with_context(|| format!("cannot make {} private", path.display()))?;
        }
        Ok(())
    };
    tighten(dir, 0o700)?;
    tighten(&dir.join(KEY_FILE), 0o600)?;
    tighten(&dir.join(LOCK_FILE), 0o600)?;
    tighten(&dir.join(DB_FILE), 0o600)?;
    for suffix in DB_SIBLINGS {
        tighten(&dir.join(format!("{DB_FILE}{suffix}")), 0o600)?;
    }
    Ok(())
}

/// An argon2id hash of `password` in PHC string form, with a random salt.
pub fn hash_password(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("randomness: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Ok(argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing: {e}"))?
        .to_string())
}

/// True if `password` matches `hash`. Slow on purpose (argon2): never call
/// it on an event loop.
pub fn check_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A hash of a random password, checked against for unknown users so that a
/// wrong name costs as long as a wrong password.
pub fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        let mut pw = [0u8; 16];
        let _ = getrandom::fill(&mut pw);
        hash_password(&format!("{pw:?}")).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp() -> PathBuf {
        let mut b = [0u8; 8];
        getrandom::fill(&mut b).unwrap();
        std::env::temp_dir().join(format!("brume-store-{:016x}", u64::from_le_bytes(b)))
    }

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_new_store_is_private() {
        let dir = tmp();
        let s = Store::open(&dir).unwrap();
        s.signing_key().unwrap();
        assert_eq!(mode_of(&dir), 0o700);
        for file in [KEY_FILE, DB_FILE, "brume.db-wal", "brume.db-shm"] {
            assert_eq!(mode_of(&dir.join(file)), 0o600, "{file}");
        }
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn an_old_open_store_is_made_private() {
        let dir = tmp();
        Store::open(&dir).unwrap().signing_key().unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        for file in [KEY_FILE, DB_FILE] {
            fs::set_permissions(dir.join(file), fs::Permissions::from_mode(0o644)).unwrap();
        }
        let _s = Store::open_existing(&dir).unwrap();
        assert_eq!(mode_of(&dir), 0o700);
        for file in [KEY_FILE, DB_FILE, "brume.db-wal", "brume.db-shm"] {
            assert_eq!(mode_of(&dir.join(file)), 0o600, "{file}");
        }
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn open_existing_refuses_a_folder_without_a_database() {
        let dir = tmp();
        let err = Store::open_existing(&dir).unwrap_err().to_string();
        assert!(err.contains(&dir.display().to_string()), "{err}");
        assert!(err.contains("no hub database"), "{err}");
        assert!(!dir.exists(), "nothing is created");
        fs::create_dir_all(&dir).unwrap();
        assert!(Store::open_existing(&dir).is_err());
        assert!(!dir.join(DB_FILE).exists());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn generations_move_on_with_every_revocation_and_outlive_the_user() {
        let dir = tmp();
        let bob = UserName::new("bob").unwrap();
        let carol = UserName::new("carol").unwrap();
        let s = Store::open(&dir).unwrap();
        assert_eq!(s.add_user(&bob, None, "pw", 1).unwrap(), 0);
        assert_eq!(s.revoke(&bob).unwrap(), Some(1));
        let hash = s.password_hash("bob").unwrap().unwrap();
        assert_eq!(s.set_password(&bob, "new").unwrap(), Some(2));
        let new_hash = s.password_hash("bob").unwrap().unwrap();
        assert!(check_password(&new_hash, "new") && !check_password(&new_hash, "pw"));
        assert_ne!(hash, new_hash);
        assert!(s.remove_user(&bob).unwrap());
        assert_eq!(s.revoke(&bob).unwrap(), None);
        assert_eq!(s.set_password(&bob, "x").unwrap(), None);
        assert_eq!(s.add_user(&bob, None, "pw", 2).unwrap(), 3);
        assert_eq!(s.add_user(&carol, None, "pw", 2).unwrap(), 0);
        let all = s.user_generations().unwrap();
        assert_eq!(all, BTreeMap::from([(bob.clone(), 3), (carol, 0)]));
        drop(s);
        assert_eq!(
            Store::open(&dir).unwrap().user_generations().unwrap()[&bob],
            3
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_new_database_retires_an_old_key() {
        let dir = tmp();
        let alice = UserName::new("alice").unwrap();
        let old = Store::open(&dir).unwrap().signing_key().unwrap();
        let t = old.mint(&alice, brume_proto::token::TokenKind::Access, 10, 10);
        fs::remove_file(dir.join(DB_FILE)).unwrap();
        let s = Store::open(&dir).unwrap();
        assert!(dir.join(RETIRED_KEY_FILE).exists(), "set aside, not lost");
        let new = s.signing_key().unwrap();
        assert!(
            new.verify(Some(&t), brume_proto::token::TokenKind::Access, 11)
                .is_err()
        );
        // An existing database keeps its key.
        drop(s);
        let again = Store::open(&dir).unwrap().signing_key().unwrap();
        let t = new.mint(&alice, brume_proto::token::TokenKind::Access, 10, 10);
        assert!(
            again
                .verify(Some(&t), brume_proto::token::TokenKind::Access, 11)
                .is_ok()
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn users_groups_and_key_persist() {
        let dir = tmp();
        let alice = UserName::new("alice").unwrap();
        let bob = UserName::new("bob").unwrap();
        {
            let mut s = Store::open(&dir).unwrap();
            s.add_user(&alice, Some("a@example.org"), "pw", 1).unwrap();
            s.add_user(&bob, None, "pw2", 2).unwrap();
            assert!(s.add_user(&bob, None, "x", 3).is_err());
            let g = GroupId {
                owner: alice.clone(),
                name: GroupName::new("team").unwrap(),
            };
            s.set_group(&g, std::slice::from_ref(&bob)).unwrap();
        }
        let s = Store::open(&dir).unwrap();
        assert_eq!(s.users().unwrap().len(), 2);
        assert_eq!(s.groups().unwrap()[0].1, vec![bob.clone()]);
        let hash = s.password_hash("alice").unwrap().unwrap();
        assert!(check_password(&hash, "pw"));
        assert!(!check_password(&hash, "pw2"));
        assert!(!check_password(dummy_hash(), "pw"));
        let k1 = s.signing_key().unwrap();
        let k2 = s.signing_key().unwrap();
        let t = k1.mint(&alice, brume_proto::token::TokenKind::Access, 10, 10);
        assert!(
            k2.verify(Some(&t), brume_proto::token::TokenKind::Access, 11)
                .is_ok()
        );
        assert_eq!(mode_of(&dir.join(KEY_FILE)), 0o600);
        assert!(s.remove_user(&bob).unwrap());
        assert!(s.groups().unwrap().is_empty());
        fs::remove_dir_all(dir).unwrap();
    }
}
