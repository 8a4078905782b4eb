//! A small resource that exists only in tests, built exactly as real resources are: the shared
//! JSON extractor, problem errors, idempotent POST, cursor pagination over a keyset query, and
//! `version`/`ETag`/`If-Match`. Tests of that machinery drive it over HTTP.

use actix_web::{HttpResponse, web};
use api::concurrency::{IfMatch, etag};
use api::extract::Json;
use api::pagination::{ListParams, SortKey};
use api::problem::ApiError;
use api::state::AppState;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use persistence::StoreError;
use persistence::pagination::{PageQuery, Rows};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use validator::Validate;

type Timestamp = chrono::DateTime<chrono::Utc>;

diesel::table! {
    widgets (id) {
        id -> Uuid,
        name -> Text,
        created_at -> Timestamptz,
        version -> Int4,
    }
}

pub fn create_table(conn: &mut PgConnection) {
    conn.batch_execute(
        "CREATE TABLE widgets (
             id uuid PRIMARY KEY,
             -- A rule only the database knows, so tests can provoke a fault of ours.
             name text NOT NULL CONSTRAINT widgets_name_not_forbidden CHECK (name <> 'forbidden'),
             created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
             version int NOT NULL DEFAULT 1
         );
         CREATE INDEX widgets_name_id ON widgets (name, id);
         CREATE INDEX widgets_created_at_id ON widgets (created_at, id);",
    )
    .unwrap_or_else(|e| panic!("create the widgets table: {e}"));
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/test/widgets")
            .route("", web::post().to(create))
            .route("", web::get().to(list))
            .route("/{id}", web::get().to(get))
            .route("/{id}", web::patch().to(update)),
    );
}

#[derive(Debug, Clone, Serialize, Deserialize, Queryable, Selectable)]
#[diesel(table_name = widgets)]
pub struct Widget {
    pub id: Uuid,
    pub name: String,
    pub created_at: Timestamp,
    pub version: i32,
}

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct NewWidget {
    #[validate(length(
        min = 1,
        max = 50,
        code = "length",
        message = "name must have 1 to 50 characters"
    ))]
    name: String,
    #[validate(range(
        min = 1,
        max = 10,
        code = "out_of_range",
        message = "quantity must be from 1 to 10"
    ))]
    quantity: Option<u32>,
    /// Makes the handler take this long, to test requests that overlap.
    #[serde(default)]
    slow_ms: u64,
}

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct WidgetPatch {
    #[validate(length(
        min = 1,
        max = 50,
        code = "length",
        message = "name must have 1 to 50 characters"
    ))]
    name: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Sort {
    Name,
    CreatedAt,
}

impl SortKey for Sort {
    const FIELDS: &'static [(&'static str, Self)] =
        &[("name", Sort::Name), ("created_at", Sort::CreatedAt)];
    const DEFAULT: &'static str = "-created_at";
}

fn with_etag(status: actix_web::http::StatusCode, widget: &Widget) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("ETag", etag(widget.version)))
        .insert_header(("Location", format!("/test/widgets/{}", widget.id)))
        .json(widget)
}

async fn create(
    state: web::Data<AppState>,
    Json(new): Json<NewWidget>,
) -> Result<HttpResponse, ApiError> {
    if new.slow_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(new.slow_ms)).await;
    }
    let _ = new.quantity;
    let widget = state
        .db(move |conn| {
            Ok(diesel::insert_into(widgets::table)
                .values((widgets::id.eq(Uuid::now_v7()), widgets::name.eq(new.name)))
                .returning(Widget::as_returning())
                .get_result(conn)?)
        })
        .await?;
    Ok(with_etag(actix_web::http::StatusCode::CREATED, &widget))
}

async fn get(state: web::Data<AppState>, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let widget = state
        .db(move |conn| {
            Ok(widgets::table
                .find(id)
                .select(Widget::as_select())
                .first(conn)?)
        })
        .await?;
    Ok(with_etag(actix_web::http::StatusCode::OK, &widget))
}

async fn update(
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    Json(patch): Json<WidgetPatch>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let widget = state
        .db(move |conn| {
            conn.transaction(|conn| {
                let current: Widget = widgets::table
                    .find(id)
                    .select(Widget::as_select())
                    .for_update()
                    .first(conn)?;
                if !if_match.matches(current.version) {
                    return Ok(None);
                }
                let updated = diesel::update(widgets::table.find(id))
                    .set((
                        widgets::name.eq(patch.name),
                        widgets::version.eq(widgets::version + 1),
                    ))
                    .returning(Widget::as_returning())
                    .get_result(conn)?;
                Ok::<_, StoreError>(Some(updated))
            })
        })
        .await?
        .ok_or_else(ApiError::precondition_failed)?;
    Ok(with_etag(actix_web::http::StatusCode::OK, &widget))
}

async fn list(
    state: web::Data<AppState>,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let request = params.parse::<Sort>()?;
    let rows = match request.key {
        Sort::Name => {
            let query: PageQuery<String> = request.query()?;
            state
                .db(move |conn| {
                    let q = widgets::table.select(Widget::as_select()).into_boxed();
                    let rows = persistence::keyset_page!(q, widgets::name, widgets::id, &query)
                        .load(conn)?;
                    Ok(Rows::from_overfetch(rows, query.limit))
                })
                .await?
        }
        Sort::CreatedAt => {
            let query: PageQuery<Timestamp> = request.query()?;
            state
                .db(move |conn| {
                    let q = widgets::table.select(Widget::as_select()).into_boxed();
                    let rows =
                        persistence::keyset_page!(q, widgets::created_at, widgets::id, &query)
                            .load(conn)?;
                    Ok(Rows::from_overfetch(rows, query.limit))
                })
                .await?
        }
    };
    let page = match request.key {
        Sort::Name => request.page(rows.rows, rows.has_more, |w| (w.name.clone(), w.id)),
        Sort::CreatedAt => request.page(rows.rows, rows.has_more, |w| (w.created_at, w.id)),
    };
    Ok(HttpResponse::Ok().json(page))
}
