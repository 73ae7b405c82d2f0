"""Notifications to shoppers that never get lost and never block a sale.

* **Outbox.** Order events (placed, ready for pickup, expiring tomorrow, shipped, return
  received) and fulfilled back-in-stock requests write ``notifications`` rows in the
  event's own transaction (``writer``): one per channel and recipient, keyed so that the
  same event never writes twice. A rolled-back event leaves no message; a committed one
  always has its rows.
* **Sending** happens in the background (``sender``): in the server process holding
  ``data/notify.sender.lock`` (``OMNICART_NOTIFY_ON_START``), or in ``omnicart notify``.
  Failures are retried with a doubling, capped backoff (``OMNICART_NOTIFY_RETRY_SECONDS``,
  ``…_RETRY_MAX_SECONDS``); checkout and staff actions only write rows, so an SMTP server
  that is down delays mail and nothing else. What "once" means is in ``sender``.
* **Channels** (``channels``): mail over SMTP (``OMNICART_SMTP_URL``, ``OMNICART_MAIL_FROM``),
  SMS as a signed JSON POST to ``OMNICART_SMS_WEBHOOK_URL``, Web Push to the PWA with VAPID
  keys generated into the data dir (``push``).
* **Recipients.** Transactional messages go to whoever gave an address: the contact given
  at checkout (a guest's only way; it wins for that order), else the customer's account
  email and phone, plus every browser that subscribed to push for the customer or while
  holding the guest cart's token. Marketing messages go only over channels the shopper
  consented to (``writer.enqueue(consented=…)``); every message today is transactional.
* **Language.** An order keeps the language of the checkout's ``Accept-Language`` ('nb' or
  'en', default 'nb'); its messages, money and dates are written in it (``templates``).
* **Back in stock** (``back_in_stock``) and **goes well with** (``complements``) live here
  too: both are read when messages are written.
"""
