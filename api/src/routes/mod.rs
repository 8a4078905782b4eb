//! One module per resource; [`configure`] registers every route together with its OpenAPI
//! operation, so the spec cannot drift from what is served.

pub mod api_clients;
pub mod auth;
pub mod branding;
pub mod catalogs;
pub mod certificates;
pub mod contacts;
pub mod customers;
pub mod delivery;
pub mod documents;
pub mod exports;
pub mod imports;
pub mod invoices;
pub mod me;
pub mod operations;
pub mod password;
pub mod products;
pub mod public;
pub mod resource;
pub mod security_events;
pub mod series;
pub mod users;
pub mod views;

use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(operations::livez)
        .service(operations::readyz)
        .service(operations::metrics)
        .service(auth::register)
        .service(auth::login)
        .service(auth::refresh)
        .service(auth::logout)
        .service(password::forgot)
        .service(password::reset)
        .service(password::change)
        .service(users::list)
        .service(users::get_one)
        .service(users::invite)
        .service(users::update)
        .service(users::remove)
        .service(users::accept)
        .service(security_events::list)
        .service(api_clients::create)
        .service(api_clients::list)
        .service(api_clients::revoke)
        .service(api_clients::token)
        .service(catalogs::list)
        .service(catalogs::list_entries)
        .service(catalogs::get_entry)
        .service(me::me)
        .service(certificates::create)
        .service(certificates::list)
        .service(certificates::get_one)
        .service(certificates::activate)
        .service(certificates::remove)
        .service(branding::get_branding)
        .service(branding::update_branding)
        .service(branding::put_logo)
        .service(branding::get_logo)
        .service(branding::delete_logo)
        .service(customers::import)
        .service(customers::create)
        .service(customers::list)
        .service(customers::get_one)
        .service(customers::update)
        .service(customers::remove)
        .service(contacts::create)
        .service(contacts::list)
        .service(contacts::get_one)
        .service(contacts::update)
        .service(contacts::remove)
        .service(products::import)
        .service(products::create)
        .service(products::list)
        .service(products::get_one)
        .service(products::update)
        .service(products::remove)
        .service(series::create)
        .service(series::list)
        .service(series::get_one)
        .service(series::update)
        .service(series::remove)
        .service(invoices::validate)
        .service(invoices::create)
        .service(invoices::list)
        .service(invoices::get_one)
        .service(delivery::send)
        .service(delivery::create_public_link)
        .service(delivery::list_public_links)
        .service(delivery::revoke_public_link)
        .service(delivery::list_events)
        .service(exports::create)
        .service(exports::list)
        .service(exports::get_one)
        .service(exports::download)
        .service(public::summary)
        .service(public::xml)
        .service(public::pdf)
        .service(documents::get_pdf)
        .service(invoices::update)
        .service(invoices::remove)
        .service(invoices::issue)
        .service(invoices::get_xml)
        .service(invoices::cancel);
}
