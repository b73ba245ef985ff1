//! The mock's shared state and the handle tests use to read and change it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};

use crate::config::MockConfig;
use crate::faults::{Fault, Faults};
use crate::orders::model::Order;
use crate::positions::model::Position;
use crate::request_log::{Log, RecordedRequest};
use crate::time::Timestamp;
use crate::watchlists::model::Watchlist;

/// A cheap, clonable handle on one mock's state: its account, orders, positions,
/// watchlists, clock, faults and request log.
///
/// Handlers and tests share it; every method locks briefly and never awaits.
#[derive(Clone)]
pub struct MockState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: MockConfig,
    /// Every account's book by name: the key-authenticated account is
    /// [`PRIMARY`]; each Connect sign-in name is its own.
    pub(crate) books: Mutex<HashMap<String, Arc<parking_lot::Mutex<Book>>>>,
    /// Alpaca Connect: issued codes and tokens.
    pub(crate) connect: Mutex<crate::connect::Grants>,
    pub(crate) now: Mutex<Option<Timestamp>>,
    pub(crate) sip_entitled: AtomicBool,
    pub(crate) faults: Faults,
    pub(crate) log: Log,
}

/// Everything a user's actions change.
pub(crate) struct Book {
    pub(crate) cash: f64,
    pub(crate) orders: Vec<Order>,
    pub(crate) positions: BTreeMap<String, Position>,
    pub(crate) watchlists: Vec<Watchlist>,
    pub(crate) prices: HashMap<String, f64>,
    pub(crate) activities: Vec<Value>,
    pub(crate) account_config: Value,
    pub(crate) locates: Vec<Value>,
    pub(crate) tokenization: Vec<Value>,
    pub(crate) whitelists: Vec<Value>,
    pub(crate) do_not_exercise: BTreeSet<String>,
    pub(crate) counter: u64,
    /// Mixed into this account's ids, so two accounts never share one (0 for the
    /// primary account: its ids are what they always were).
    pub(crate) salt: u64,
}

/// The account of requests authenticated with API keys, and of the state's helpers
/// outside [`MockState::as_account`].
pub const PRIMARY: &str = "primary";

tokio::task_local! {
    /// The account the request being served is for.
    pub(crate) static ACCOUNT: String;
}

/// The account the current request (or [`MockState::as_account`]) is for.
pub(crate) fn current_account() -> String {
    ACCOUNT
        .try_with(Clone::clone)
        .unwrap_or_else(|_| PRIMARY.to_string())
}

/// A new account's book: the configured cash, a deposit, nothing else.
fn fresh_book(config: &MockConfig, name: &str) -> Book {
    let created = config.now.unwrap_or_else(Timestamp::now_utc);
    Book {
        cash: config.starting_cash,
        orders: Vec::new(),
        positions: BTreeMap::new(),
        watchlists: Vec::new(),
        prices: HashMap::new(),
        activities: vec![json!({
            "id": format!("{}::{}", created.add_secs(-86_400 * 30).date_utc().to_string().replace('-', ""), crate::ids::stable_uuid("deposit")),
            "activity_type": "CSD",
            "date": created.add_secs(-86_400 * 30).date_utc().to_string() + "T00:00:00Z",
            "net_amount": crate::numbers::money(config.starting_cash),
            "description": "initial deposit",
            "status": "executed",
            "currency": "USD",
        })],
        account_config: json!({
            "dtbp_check": "entry",
            "trade_confirm_email": "all",
            "suspend_trade": false,
            "no_shorting": false,
            "fractional_trading": true,
            "max_margin_multiplier": "4",
            "max_options_trading_level": 3,
            "pdt_check": "entry",
            "ptp_no_exception_entry": false,
            "disable_overnight_trading": false,
        }),
        locates: Vec::new(),
        tokenization: Vec::new(),
        whitelists: Vec::new(),
        do_not_exercise: BTreeSet::new(),
        counter: 0,
        salt: if name == PRIMARY {
            0
        } else {
            crate::hashing::hash_parts(&[b"account", name.as_bytes()])
        },
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl MockState {
    /// A fresh state from `config`.
    pub fn new(config: MockConfig) -> MockState {
        let mut books = HashMap::new();
        books.insert(
            PRIMARY.to_string(),
            Arc::new(parking_lot::Mutex::new(fresh_book(&config, PRIMARY))),
        );
        MockState {
            inner: Arc::new(Inner {
                sip_entitled: AtomicBool::new(config.sip_entitled),
                now: Mutex::new(config.now),
                config,
                books: Mutex::new(books),
                connect: Mutex::default(),
                faults: Faults::default(),
                log: Log::default(),
            }),
        }
    }

    /// Runs `f` as the account `name` (a Connect sign-in name; [`PRIMARY`] is the
    /// key-authenticated one): the state's account helpers ([`MockState::orders`],
    /// [`MockState::cash`], ...) read and change that account's book. An account
    /// starts like the primary one did, with the configured cash and nothing else.
    pub fn as_account<R>(&self, name: &str, f: impl FnOnce(&MockState) -> R) -> R {
        ACCOUNT.sync_scope(name.to_string(), || f(self))
    }

    /// The accounts that exist so far (the primary one, and each one a request or
    /// [`MockState::as_account`] used), sorted.
    pub fn accounts(&self) -> Vec<String> {
        let mut names: Vec<String> = lock(&self.inner.books).keys().cloned().collect();
        names.sort();
        names
    }

    /// The configuration the mock started with.
    pub fn config(&self) -> &MockConfig {
        &self.inner.config
    }

    pub(crate) fn seed(&self) -> u64 {
        self.inner.config.seed
    }

    /// The book of the account the current request is for (see [`MockState::as_account`]).
    pub(crate) fn book(&self) -> parking_lot::ArcMutexGuard<parking_lot::RawMutex, Book> {
        let name = current_account();
        let book = {
            let mut books = lock(&self.inner.books);
            let config = &self.inner.config;
            books
                .entry(name)
                .or_insert_with_key(|name| {
                    Arc::new(parking_lot::Mutex::new(fresh_book(config, name)))
                })
                .clone()
        };
        book.lock_arc()
    }

    /// The mock's current time: the frozen instant, or the wall clock.
    pub fn now(&self) -> Timestamp {
        lock(&self.inner.now).unwrap_or_else(Timestamp::now_utc)
    }

    /// Freezes the clock at `t`.
    pub fn set_now(&self, t: Timestamp) {
        *lock(&self.inner.now) = Some(t);
    }

    /// Lets the clock follow the wall clock from now on.
    pub fn use_system_clock(&self) {
        *lock(&self.inner.now) = None;
    }

    /// Moves a frozen clock forward by `by` (freezing it at wall-clock time first
    /// if it was following the wall clock).
    pub fn advance(&self, by: Duration) {
        let mut now = lock(&self.inner.now);
        let base = now.unwrap_or_else(Timestamp::now_utc);
        *now = Some(base.add_nanos(i64::try_from(by.as_nanos()).unwrap_or(i64::MAX)));
    }

    /// Whether `feed=sip` is allowed for recent data.
    pub fn sip_entitled(&self) -> bool {
        self.inner.sip_entitled.load(Ordering::Relaxed)
    }

    /// Changes the SIP entitlement.
    pub fn set_sip_entitled(&self, yes: bool) {
        self.inner.sip_entitled.store(yes, Ordering::Relaxed);
    }

    /// Pins the last price of `symbol` (orders fill at it, positions are valued at
    /// it). Market data is not affected.
    pub fn set_price(&self, symbol: &str, price: f64) {
        self.book().prices.insert(symbol.to_string(), price);
    }

    /// Forgets a price pinned with [`MockState::set_price`].
    pub fn clear_price(&self, symbol: &str) {
        self.book().prices.remove(symbol);
    }

    /// The price orders in `symbol` fill at now: the pinned one, or the market data
    /// model's trade price at [`MockState::now`].
    pub fn last_price(&self, symbol: &str) -> f64 {
        let pinned = self.book().prices.get(symbol).copied();
        pinned.unwrap_or_else(|| self.model_last_price(symbol))
    }

    pub(crate) fn model_last_price(&self, symbol: &str) -> f64 {
        crate::market::items::latest_trade_price(self.seed(), symbol, self.now())
    }

    pub(crate) fn price_in(&self, book: &Book, symbol: &str) -> f64 {
        book.prices
            .get(symbol)
            .copied()
            .unwrap_or_else(|| self.model_last_price(symbol))
    }

    /// Every order (oldest first), as the API prints them.
    pub fn orders(&self) -> Vec<Value> {
        let now = self.now();
        self.book()
            .orders
            .iter()
            .map(|o| o.to_json(true, now))
            .collect()
    }

    /// One order by id.
    pub fn order(&self, order_id: &str) -> Option<Value> {
        let now = self.now();
        self.book()
            .orders
            .iter()
            .find(|o| o.id == order_id)
            .map(|o| o.to_json(true, now))
    }

    /// Cash in dollars.
    pub fn cash(&self) -> f64 {
        self.book().cash
    }

    /// Sets cash in dollars.
    pub fn set_cash(&self, cash: f64) {
        self.book().cash = cash;
    }

    /// Requests received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.inner.log).clone()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        lock(&self.inner.log).clear();
    }

    /// Adds a fault; the first matching fault (in the order added) applies.
    pub fn inject(&self, fault: Fault) {
        lock(&self.inner.faults).push(fault);
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        lock(&self.inner.faults).clear();
    }

    /// The next sequential id (deterministic for a given seed and history).
    pub(crate) fn next_uuid(&self, book: &mut Book) -> String {
        book.counter += 1;
        crate::ids::sequence_uuid(self.seed() ^ book.salt, book.counter)
    }
}
