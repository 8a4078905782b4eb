//! Diesel table definitions, kept by hand in step with `migrations/`.

diesel::table! {
    idempotency_keys (scope, key) {
        scope -> Text,
        key -> Text,
        request_fingerprint -> Bytea,
        locked_at -> Nullable<Timestamptz>,
        response_status -> Nullable<SmallInt>,
        response_headers -> Jsonb,
        response_body -> Nullable<Bytea>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    organizations (id) {
        id -> Uuid,
        legal_name -> Text,
        rfc -> Text,
        tax_regime -> Text,
        postal_code -> Text,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    users (id) {
        id -> Uuid,
        organization_id -> Uuid,
        name -> Text,
        email -> Text,
        password_hash -> Text,
        role -> Text,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Uuid,
        organization_id -> Uuid,
        user_id -> Uuid,
        family_id -> Uuid,
        token_hash -> Bytea,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        rotated_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    login_throttle (key) {
        key -> Text,
        failures -> Int4,
        last_failure -> Timestamptz,
        blocked_until -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    security_events (id) {
        id -> Uuid,
        organization_id -> Nullable<Uuid>,
        user_id -> Nullable<Uuid>,
        kind -> Text,
        client_address -> Nullable<Text>,
        details -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(users -> organizations (organization_id));
diesel::allow_tables_to_appear_in_same_query!(
    organizations,
    users,
    refresh_tokens,
    security_events
);

diesel::table! {
    email_outbox (id) {
        id -> Uuid,
        organization_id -> Nullable<Uuid>,
        kind -> Text,
        to_address -> Text,
        subject -> Text,
        body_text -> Text,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        leased_until -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        sent_at -> Nullable<Timestamptz>,
        extra_to_addresses -> Array<Text>,
        cc_addresses -> Array<Text>,
        invoice_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    password_reset_tokens (id) {
        id -> Uuid,
        organization_id -> Uuid,
        user_id -> Uuid,
        token_hash -> Bytea,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    invitations (id) {
        id -> Uuid,
        organization_id -> Uuid,
        email -> Text,
        role -> Text,
        token_hash -> Bytea,
        invited_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        accepted_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    api_clients (id) {
        id -> Uuid,
        organization_id -> Uuid,
        name -> Text,
        role -> Text,
        secret_hash -> Bytea,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        last_used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    sat_catalogs (name) {
        name -> Text,
        version -> Text,
        sha256 -> Bytea,
        row_count -> Int4,
        loaded_at -> Timestamptz,
    }
}

diesel::table! {
    sat_catalog_entries (catalog, key) {
        catalog -> Text,
        key -> Text,
        description -> Text,
        search -> Text,
        attributes -> Jsonb,
        valid_from -> Nullable<Date>,
        valid_to -> Nullable<Date>,
        position -> Int4,
    }
}

diesel::table! {
    customers (id) {
        id -> Uuid,
        organization_id -> Uuid,
        legal_name -> Text,
        rfc -> Text,
        tax_regime -> Text,
        tax_postal_code -> Text,
        cfdi_use -> Nullable<Text>,
        tax_residence_country -> Nullable<Text>,
        foreign_tax_id -> Nullable<Text>,
        emails -> Array<Text>,
        phone -> Nullable<Text>,
        address -> Jsonb,
        payment_terms_days -> Int4,
        notes -> Nullable<Text>,
        external_id -> Nullable<Text>,
        metadata -> Jsonb,
        archived -> Bool,
        search -> Text,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    customer_contacts (id) {
        id -> Uuid,
        organization_id -> Uuid,
        customer_id -> Uuid,
        name -> Text,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        role -> Nullable<Text>,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(customer_contacts -> customers (customer_id));
diesel::allow_tables_to_appear_in_same_query!(customers, customer_contacts);

diesel::table! {
    products (id) {
        id -> Uuid,
        organization_id -> Uuid,
        name -> Text,
        description -> Nullable<Text>,
        sku -> Nullable<Text>,
        product_key -> Text,
        unit_key -> Text,
        unit_name -> Nullable<Text>,
        unit_price -> Numeric,
        currency -> Text,
        tax_object -> Text,
        taxes -> Jsonb,
        external_id -> Nullable<Text>,
        metadata -> Jsonb,
        archived -> Bool,
        search -> Text,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    series (id) {
        id -> Uuid,
        organization_id -> Uuid,
        prefix -> Text,
        document_type -> Text,
        next_folio -> Int8,
        is_default -> Bool,
        description -> Nullable<Text>,
        archived -> Bool,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    certificates (id) {
        id -> Uuid,
        organization_id -> Uuid,
        number -> Text,
        rfc -> Text,
        legal_name -> Text,
        valid_from -> Timestamptz,
        valid_to -> Timestamptz,
        certificate_der -> Bytea,
        private_key_ciphertext -> Bytea,
        encryption_key_id -> Text,
        active -> Bool,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    invoices (id) {
        id -> Uuid,
        organization_id -> Uuid,
        customer_id -> Uuid,
        document_type -> Text,
        status -> Text,
        series_id -> Nullable<Uuid>,
        serie -> Nullable<Text>,
        folio -> Nullable<Int8>,
        currency -> Text,
        exchange_rate -> Nullable<Numeric>,
        payment_method -> Nullable<Text>,
        payment_form -> Nullable<Text>,
        cfdi_use -> Text,
        export -> Text,
        payment_terms -> Nullable<Text>,
        due_date -> Nullable<Date>,
        notes -> Nullable<Text>,
        external_id -> Nullable<Text>,
        metadata -> Jsonb,
        lines -> Jsonb,
        related -> Jsonb,
        global_information -> Nullable<Jsonb>,
        totals -> Jsonb,
        total -> Numeric,
        balance -> Numeric,
        payment_status -> Text,
        issued_at -> Nullable<Timestamptz>,
        uuid -> Nullable<Uuid>,
        search -> Text,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    invoice_stamps (invoice_id) {
        invoice_id -> Uuid,
        organization_id -> Uuid,
        certificate_number -> Text,
        sealed_xml -> Bytea,
        sello -> Text,
        pac -> Text,
        xml -> Nullable<Bytea>,
        uuid -> Nullable<Uuid>,
        stamped_at -> Nullable<Timestamptz>,
        attempts -> Int4,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        sealed_at -> Timestamptz,
    }
}

diesel::table! {
    invoice_cancellations (invoice_id) {
        invoice_id -> Uuid,
        organization_id -> Uuid,
        reason -> Text,
        replacement_uuid -> Nullable<Uuid>,
        status -> Text,
        requested_by -> Nullable<Uuid>,
        requested_at -> Timestamptz,
        answered_at -> Nullable<Timestamptz>,
    }
}

diesel::joinable!(invoices -> customers (customer_id));
diesel::joinable!(invoice_stamps -> invoices (invoice_id));
diesel::joinable!(invoice_cancellations -> invoices (invoice_id));
diesel::table! {
    invoice_events (id) {
        id -> Uuid,
        organization_id -> Uuid,
        invoice_id -> Uuid,
        kind -> Text,
        actor_type -> Text,
        actor_id -> Nullable<Uuid>,
        data -> Jsonb,
        occurred_at -> Timestamptz,
    }
}

diesel::table! {
    invoice_tracking (invoice_id) {
        invoice_id -> Uuid,
        organization_id -> Uuid,
        delivery_status -> Text,
        delivery_error -> Nullable<Text>,
        sent_at -> Nullable<Timestamptz>,
        viewed_at -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    invoice_public_links (id) {
        id -> Uuid,
        organization_id -> Uuid,
        invoice_id -> Uuid,
        token_hash -> Bytea,
        created_by_type -> Text,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        expires_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
        first_viewed_at -> Nullable<Timestamptz>,
        last_viewed_at -> Nullable<Timestamptz>,
        views -> Int4,
    }
}

diesel::joinable!(invoice_events -> invoices (invoice_id));
diesel::joinable!(invoice_tracking -> invoices (invoice_id));
diesel::joinable!(invoice_public_links -> invoices (invoice_id));
diesel::allow_tables_to_appear_in_same_query!(
    invoices,
    invoice_stamps,
    invoice_cancellations,
    customers,
    invoice_events,
    invoice_tracking,
    invoice_public_links
);

diesel::table! {
    exports (id) {
        id -> Uuid,
        organization_id -> Uuid,
        status -> Text,
        date_from -> Date,
        date_to -> Date,
        document_types -> Array<Text>,
        include_pdf -> Bool,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        leased_until -> Nullable<Timestamptz>,
        finished_at -> Nullable<Timestamptz>,
        document_count -> Int4,
        size_bytes -> Int8,
        error -> Nullable<Text>,
    }
}

diesel::table! {
    export_chunks (export_id, seq) {
        export_id -> Uuid,
        organization_id -> Uuid,
        seq -> Int4,
        data -> Bytea,
    }
}

diesel::joinable!(export_chunks -> exports (export_id));
diesel::allow_tables_to_appear_in_same_query!(exports, export_chunks);

diesel::table! {
    organization_branding (organization_id) {
        organization_id -> Uuid,
        logo -> Nullable<Bytea>,
        logo_content_type -> Nullable<Text>,
        logo_width -> Nullable<Int4>,
        logo_height -> Nullable<Int4>,
        accent_color -> Nullable<Text>,
        footer_text -> Nullable<Text>,
        version -> Int4,
        updated_at -> Timestamptz,
    }
}
