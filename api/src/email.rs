//! Email delivery from the outbox: a background task leases due emails, sends them over SMTP,
//! and records the outcome. A failed attempt is retried with exponential back-off; a permanent
//! SMTP refusal, a bad address, or too many attempts fail the email for good.
//!
//! Delivery is at least once: if the process dies after the SMTP server accepted an email and
//! before it was marked sent, the email is sent again when its lease ends. Every attempt of one
//! outbox row carries the same `Message-ID`, so mail systems can recognise the repeat.

use std::time::Duration;

use actix_web::web;
use chrono::Utc;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::{Message, SmtpTransport, Transport};
use persistence::outbox::{self, OutboxEmail};
use secrecy::ExposeSecret;

use crate::state::AppState;

/// How long a worker may take to send a leased email before another may try.
const LEASE: Duration = Duration::from_secs(60);
/// Emails taken per round.
const BATCH: i64 = 10;
/// Attempts before an email fails for good (the last retry comes about 20 minutes after the
/// first attempt).
pub const MAX_ATTEMPTS: i32 = 8;
const FIRST_RETRY: Duration = Duration::from_secs(10);
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

/// Why one attempt failed, and whether another could succeed.
#[derive(Debug)]
struct Failure {
    message: String,
    permanent: bool,
}

/// Runs until the process stops.
pub async fn deliver_forever(state: web::Data<AppState>) {
    let transport = match &state.config.smtp_url {
        None => {
            log::warn!("SMTP_URL is not set: emails are kept in the outbox and not sent");
            None
        }
        Some(url) => match SmtpTransport::from_url(url.expose_secret()) {
            Ok(builder) => Some(builder.timeout(Some(SMTP_TIMEOUT)).build()),
            Err(e) => {
                // Config validation checked the scheme; anything else wrong is reported here.
                log::error!("SMTP_URL is unusable ({e}); emails are kept in the outbox");
                None
            }
        },
    };
    let Ok(from) = state.config.email_from.parse::<Mailbox>() else {
        log::error!("EMAIL_FROM is not an address; emails are kept in the outbox");
        return;
    };
    let mut tick = tokio::time::interval(state.config.email_poll_interval);
    let mut reported_pending = 0;
    loop {
        tick.tick().await;
        let Some(transport) = &transport else {
            if let Ok(pending) = state.db(outbox::pending_count).await
                && pending != reported_pending
            {
                if pending > 0 {
                    log::warn!("{pending} emails not sent: SMTP_URL is not set");
                }
                reported_pending = pending;
            }
            continue;
        };
        let due = match state.db(|conn| outbox::lease_due(conn, BATCH, LEASE)).await {
            Ok(due) => due,
            Err(e) => {
                log::warn!("cannot read the email outbox: {e}");
                continue;
            }
        };
        for email in due {
            let id = email.id;
            let attempts = email.attempts;
            let files = match (email.organization_id, email.invoice_id) {
                (Some(org), Some(invoice)) => {
                    match state
                        .db(move |conn| invoice_files(conn, org, invoice))
                        .await
                    {
                        Ok(files) => files,
                        Err(e) => {
                            log::warn!(
                                "email {id}: cannot read its attachments ({e}); retried when its lease ends"
                            );
                            continue;
                        }
                    }
                }
                _ => Ok(Vec::new()),
            };
            let outcome = match files {
                Ok(files) => {
                    let (transport, from) = (transport.clone(), from.clone());
                    web::block(move || send(&transport, &from, &email, files)).await
                }
                // Without its documents the email is pointless, and retrying will not help.
                Err(message) => Ok(Err(Failure {
                    message,
                    permanent: true,
                })),
            };
            let recorded = match outcome {
                Ok(Ok(())) => state.db(move |conn| outbox::mark_sent(conn, id)).await,
                Ok(Err(failure)) => {
                    let retry_at = (!failure.permanent && attempts < MAX_ATTEMPTS).then(|| {
                        Utc::now()
                            + chrono::Duration::from_std(backoff(attempts)).unwrap_or_default()
                    });
                    log::warn!(
                        "email {id} attempt {attempts} failed{}: {}",
                        if retry_at.is_some() {
                            ", will retry"
                        } else {
                            " for good"
                        },
                        failure.message
                    );
                    state
                        .db(move |conn| {
                            outbox::mark_attempt_failed(conn, id, &failure.message, retry_at)
                        })
                        .await
                }
                Err(e) => {
                    log::error!("email {id}: the sending task failed: {e}");
                    continue;
                }
            };
            if let Err(e) = recorded {
                log::warn!(
                    "email {id}: cannot record the outcome ({e}); it is retried when its lease ends"
                );
            }
        }
    }
}

/// 10 s, 20 s, 40 s ... after the first, second, third failed attempt.
fn backoff(attempts: i32) -> Duration {
    FIRST_RETRY.saturating_mul(1 << (attempts - 1).clamp(0, 16))
}

/// A file attached to an email: its name, MIME type and bytes.
type File = (String, ContentType, Vec<u8>);

/// The PDF and the stamped XML of an invoice email's invoice, as attachments; `Err` with the
/// reason when the invoice has no stamped document to send.
fn invoice_files(
    conn: &mut persistence::PgConnection,
    org: uuid::Uuid,
    invoice_id: uuid::Uuid,
) -> Result<Result<Vec<File>, String>, persistence::StoreError> {
    let invoice = persistence::invoices::find(conn, org, invoice_id)?;
    // What the PDF is printed from is the stamped XML itself, once there is one.
    let printable = match crate::routes::documents::printable(conn, org, &invoice)? {
        Ok(printable) if !printable.options.draft => printable,
        Ok(_) => return Ok(Err("the invoice has no stamped XML".to_string())),
        Err(e) => return Ok(Err(format!("the invoice cannot be printed: {e:?}"))),
    };
    let pdf = match crate::pdf::render(&printable.xml, &printable.options) {
        Ok(pdf) => pdf,
        Err(e) => return Ok(Err(format!("the PDF cannot be made: {e}"))),
    };
    let (name, xml) = (printable.name, printable.xml.into_bytes());
    let xml_type = ContentType::parse("application/xml").unwrap_or(ContentType::TEXT_PLAIN);
    let pdf_type = ContentType::parse("application/pdf").unwrap_or(ContentType::TEXT_PLAIN);
    Ok(Ok(vec![
        (format!("{name}.pdf"), pdf_type, pdf),
        (format!("{name}.xml"), xml_type, xml),
    ]))
}

fn mailbox(address: &str) -> Result<Mailbox, Failure> {
    address.parse().map_err(|e| Failure {
        message: format!("invalid recipient address {address}: {e}"),
        permanent: true,
    })
}

fn send(
    transport: &SmtpTransport,
    from: &Mailbox,
    email: &OutboxEmail,
    files: Vec<File>,
) -> Result<(), Failure> {
    let mut builder = Message::builder()
        .from(from.clone())
        .to(mailbox(&email.to_address)?)
        .subject(email.subject.clone())
        .message_id(Some(format!("<{}@facturacion>", email.id)));
    for address in &email.extra_to_addresses {
        builder = builder.to(mailbox(address)?);
    }
    for address in &email.cc_addresses {
        builder = builder.cc(mailbox(address)?);
    }
    // Quoted-printable keeps long links and Spanish text intact through any relay.
    let text = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .header(ContentTransferEncoding::QuotedPrintable)
        .body(email.body_text.clone());
    let built = if files.is_empty() {
        builder.singlepart(text)
    } else {
        let mut parts = MultiPart::mixed().singlepart(text);
        for (name, content_type, bytes) in files {
            parts = parts.singlepart(Attachment::new(name).body(bytes, content_type));
        }
        builder.multipart(parts)
    };
    let message = built.map_err(|e| Failure {
        message: format!("cannot build the message: {e}"),
        permanent: true,
    })?;
    transport.send(&message).map(drop).map_err(|e| Failure {
        permanent: e.is_permanent(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::backoff;
    use std::time::Duration;

    #[test]
    fn retries_back_off_exponentially() {
        assert_eq!(backoff(1), Duration::from_secs(10));
        assert_eq!(backoff(2), Duration::from_secs(20));
        assert_eq!(backoff(4), Duration::from_secs(80));
    }
}
