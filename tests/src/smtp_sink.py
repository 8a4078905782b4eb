"""The SMTP server of the tests: aiosmtpd's Maildir handler, except that it refuses recipients
whose address starts with "bounce" (550, as a server refuses an unknown mailbox), so tests can
see a delivery fail for good."""

from aiosmtpd.handlers import Mailbox


class Sink(Mailbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower().startswith("bounce"):
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"
