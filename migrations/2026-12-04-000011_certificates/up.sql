-- The organization's CSDs (certificados de sello digital): SAT's certificate and the private
-- key that seals its CFDIs. The key is kept only encrypted by the service (AES-256-GCM under
-- CSD_ENCRYPTION_KEY, see api/src/vault.rs), bound to its organization and row.
CREATE TABLE certificates (
    id                      uuid        PRIMARY KEY,
    organization_id         uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    -- NoCertificado: the certificate's serial, 20 digits.
    number                  text        NOT NULL CHECK (number ~ '^[0-9]{20}$'),
    -- The holder's RFC and name as the certificate states them.
    rfc                     text        NOT NULL CHECK (char_length(rfc) BETWEEN 12 AND 13),
    legal_name              text        NOT NULL CHECK (char_length(legal_name) <= 1000),
    valid_from              timestamptz NOT NULL,
    valid_to                timestamptz NOT NULL,
    -- The .cer as uploaded (X.509 DER); CFDI's Certificado is its base64.
    certificate_der         bytea       NOT NULL,
    -- The private key as PKCS#8 DER, encrypted: 12-byte nonce, then ciphertext and tag. The
    -- associated data names the organization and this row, so it opens nowhere else.
    private_key_ciphertext  bytea       NOT NULL CHECK (octet_length(private_key_ciphertext) > 28),
    -- Which encryption key sealed it (see CSD_PREVIOUS_ENCRYPTION_KEYS for rotation).
    encryption_key_id       text        NOT NULL CHECK (char_length(encryption_key_id) BETWEEN 1 AND 64),
    -- The one that seals new CFDIs; at most one per organization.
    active                  boolean     NOT NULL DEFAULT false,
    version                 integer     NOT NULL DEFAULT 1,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    CHECK (valid_from <= valid_to)
);
CREATE UNIQUE INDEX certificates_number_key ON certificates (organization_id, number);
CREATE UNIQUE INDEX certificates_active_key ON certificates (organization_id) WHERE active;
CREATE INDEX certificates_created_idx ON certificates (organization_id, created_at, id);
-- Rotation at start-up looks for rows sealed with another key than the current one.
CREATE INDEX certificates_encryption_key_idx ON certificates (encryption_key_id);

ALTER TABLE certificates ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON certificates
    USING (organization_id = current_organization_id())
    WITH CHECK (organization_id = current_organization_id());
