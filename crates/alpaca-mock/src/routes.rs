//! The route table: both APIs on one router (their paths do not overlap).

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{delete, get, post};

use crate::errors::ApiError;
use crate::market::{
    corporate_actions, crypto, fixed_income, forex, meta, news, options, screener, stocks,
};
use crate::state::MockState;
use crate::{
    account, announcements, assets, auth, calendar, events, faults, locates, option_contracts,
    orders, positions, request_log, tokenization, wallets, watchlists,
};

fn trading() -> Router<MockState> {
    Router::new()
        .route("/v1/locates", get(locates::list).post(locates::create))
        .route("/v1/locates/quotes", get(locates::quotes))
        .route("/v1/locates/{locate_id}", get(locates::get))
        .route("/v2beta1/events/activities", get(events::activities))
        .route("/v2/account", get(account::get))
        .route("/v2/account/activities", get(account::list_activities))
        .route(
            "/v2/account/activities/{activity_type}",
            get(account::list_activities_by_type),
        )
        .route(
            "/v2/account/configurations",
            get(account::get_config).patch(account::patch_config),
        )
        .route(
            "/v2/account/portfolio/history",
            get(account::portfolio_history),
        )
        .route("/v2/assets", get(assets::list))
        .route("/v2/assets/{symbol_or_asset_id}", get(assets::get))
        .route("/v2/calendar", get(calendar::legacy_calendar))
        .route("/v2/clock", get(calendar::legacy_clock))
        .route(
            "/v2/corporate_actions/announcements",
            get(announcements::list),
        )
        .route(
            "/v2/corporate_actions/announcements/{id}",
            get(announcements::get),
        )
        .route("/v2/options/contracts", get(option_contracts::list))
        .route(
            "/v2/options/contracts/{symbol_or_id}",
            get(option_contracts::get),
        )
        .route(
            "/v2/orders",
            get(orders::routes::list)
                .post(orders::routes::post)
                .delete(orders::routes::cancel_all),
        )
        .route(
            "/v2/orders:by_client_order_id",
            get(orders::routes::get_by_client_id),
        )
        .route(
            "/v2/orders/{order_id}",
            get(orders::routes::get)
                .patch(orders::routes::patch)
                .delete(orders::routes::cancel),
        )
        .route(
            "/v2/positions",
            get(positions::list).delete(positions::close_all),
        )
        .route(
            "/v2/positions/{symbol_or_asset_id}",
            get(positions::get).delete(positions::close_one),
        )
        .route(
            "/v2/positions/{symbol_or_contract_id}/exercise",
            post(positions::exercise),
        )
        .route(
            "/v2/positions/{symbol_or_contract_id}/do-not-exercise",
            post(positions::do_not_exercise),
        )
        .route("/v2/tokenization/mint", post(tokenization::mint))
        .route("/v2/tokenization/requests", get(tokenization::list))
        .route(
            "/v2/tokenization/requests:by_client_request_id",
            get(tokenization::get_by_client_id),
        )
        .route(
            "/v2/tokenization/requests/{tokenization_request_id}",
            get(tokenization::get),
        )
        .route("/v2/wallets", get(wallets::wallet))
        .route("/v2/wallets/fees/estimate", get(wallets::fee_estimate))
        .route("/v2/wallets/transfers", get(wallets::transfers))
        .route(
            "/v2/wallets/transfers/{transfer_id}",
            get(wallets::transfer),
        )
        .route("/v2/wallets/travel-rule/vasps", get(wallets::vasps))
        .route(
            "/v2/wallets/whitelists",
            get(wallets::whitelists).post(wallets::create_whitelist),
        )
        .route(
            "/v2/wallets/whitelists/{whitelisted_address_id}",
            delete(wallets::delete_whitelist),
        )
        .route(
            "/v2/wallets/whitelists/{whitelisted_address_id}/travel-rule-info",
            axum::routing::patch(wallets::update_travel_rule),
        )
        .route(
            "/v2/watchlists",
            get(watchlists::list).post(watchlists::create),
        )
        .route(
            "/v2/watchlists:by_name",
            get(watchlists::get_by_name)
                .post(watchlists::add_by_name)
                .put(watchlists::update_by_name)
                .delete(watchlists::delete_by_name),
        )
        .route(
            "/v2/watchlists/{watchlist_id}",
            get(watchlists::get)
                .post(watchlists::add)
                .put(watchlists::update)
                .delete(watchlists::delete),
        )
        .route(
            "/v2/watchlists/{watchlist_id}/{symbol}",
            delete(watchlists::remove_symbol),
        )
        .route("/v3/calendar/{market}", get(calendar::calendar))
        .route("/v3/clock", get(calendar::clock))
}

fn market_data() -> Router<MockState> {
    Router::new()
        .route(
            "/v1beta1/events/corporate-actions",
            get(events::corporate_actions),
        )
        .route(
            "/v1beta1/fixed_income/latest/prices",
            get(fixed_income::latest_prices),
        )
        .route(
            "/v1beta1/fixed_income/latest/quotes",
            get(fixed_income::latest_quotes),
        )
        .route("/v1beta1/forex/latest/rates", get(forex::latest_rates))
        .route("/v1beta1/forex/rates", get(forex::rates))
        .route("/v1beta1/logos/{symbol}", get(meta::logo))
        .route("/v1beta1/news", get(news::news))
        .route("/v1beta1/options/bars", get(options::bars))
        .route(
            "/v1beta1/options/meta/conditions/{ticktype}",
            get(meta::option_conditions),
        )
        .route(
            "/v1beta1/options/meta/exchanges",
            get(meta::option_exchanges),
        )
        .route(
            "/v1beta1/options/quotes/latest",
            get(options::latest_quotes),
        )
        .route("/v1beta1/options/snapshots", get(options::snapshots))
        .route(
            "/v1beta1/options/snapshots/{underlying_symbol}",
            get(options::chain),
        )
        .route("/v1beta1/options/trades", get(options::trades))
        .route(
            "/v1beta1/options/trades/latest",
            get(options::latest_trades),
        )
        .route(
            "/v1beta1/screener/{market_type}/movers",
            get(screener::movers),
        )
        .route(
            "/v1beta1/screener/stocks/most-actives",
            get(screener::most_actives),
        )
        .route("/v1beta3/crypto/{loc}/bars", get(crypto::bars))
        .route(
            "/v1beta3/crypto/{loc}/latest/bars",
            get(crypto::latest_bars),
        )
        .route(
            "/v1beta3/crypto/{loc}/latest/orderbooks",
            get(crypto::latest_orderbooks),
        )
        .route(
            "/v1beta3/crypto/{loc}/latest/quotes",
            get(crypto::latest_quotes),
        )
        .route(
            "/v1beta3/crypto/{loc}/latest/trades",
            get(crypto::latest_trades),
        )
        .route("/v1beta3/crypto/{loc}/quotes", get(crypto::quotes))
        .route("/v1beta3/crypto/{loc}/snapshots", get(crypto::snapshots))
        .route("/v1beta3/crypto/{loc}/trades", get(crypto::trades))
        .route("/v1/corporate-actions", get(corporate_actions::list))
        .route("/v2/stocks/{symbol}/auctions", get(stocks::auctions_single))
        .route("/v2/stocks/{symbol}/bars", get(stocks::bars_single))
        .route("/v2/stocks/{symbol}/bars/latest", get(stocks::latest_bar))
        .route("/v2/stocks/{symbol}/quotes", get(stocks::quotes_single))
        .route(
            "/v2/stocks/{symbol}/quotes/latest",
            get(stocks::latest_quote),
        )
        .route("/v2/stocks/{symbol}/snapshot", get(stocks::snapshot_single))
        .route("/v2/stocks/{symbol}/trades", get(stocks::trades_single))
        .route(
            "/v2/stocks/{symbol}/trades/latest",
            get(stocks::latest_trade),
        )
        .route("/v2/stocks/auctions", get(stocks::auctions))
        .route("/v2/stocks/bars", get(stocks::bars))
        .route("/v2/stocks/bars/latest", get(stocks::latest_bars))
        .route(
            "/v2/stocks/meta/conditions/{ticktype}",
            get(meta::stock_conditions),
        )
        .route("/v2/stocks/meta/exchanges", get(meta::stock_exchanges))
        .route("/v2/stocks/quotes", get(stocks::quotes))
        .route("/v2/stocks/quotes/latest", get(stocks::latest_quotes))
        .route("/v2/stocks/snapshots", get(stocks::snapshots))
        .route("/v2/stocks/trades", get(stocks::trades))
        .route("/v2/stocks/trades/latest", get(stocks::latest_trades))
}

async fn not_found() -> ApiError {
    ApiError::not_found("endpoint not found")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(405, 40510000, "method not allowed")
}

/// The mock as an axum router, for embedding in another server. Both APIs are
/// served; requests are recorded, then faults apply, then keys are checked.
///
/// A [`crate::FaultKind::Drop`] fault can only close the connection when the
/// router is served by [`crate::MockServer`]; embedded, it answers an empty 502.
pub fn router(state: MockState) -> Router {
    trading()
        .merge(market_data())
        .route(
            "/oauth/authorize",
            get(crate::connect::authorize_page).post(crate::connect::authorize_submit),
        )
        .route("/oauth/token", post(crate::connect::token))
        .route("/oauth/revoke", post(crate::connect::revoke))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(state.clone(), auth::require_keys))
        .layer(from_fn_with_state(
            state.inner.faults.clone(),
            faults::apply,
        ))
        .layer(from_fn_with_state(
            state.inner.log.clone(),
            request_log::record,
        ))
        .with_state(state)
}
