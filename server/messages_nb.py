"""Norwegian Bokmål for the messages of ``AppError`` s: English template → Bokmål template.

A key is the message exactly as written where it is raised; an f-string's ``{expression}`` is
kept verbatim as a placeholder, and the Bokmål text uses the same placeholders (what they held
in the English message is put in their place). ``tests/server/test_messages.py`` checks that
every message raised in ``server/`` and ``schema/`` (operator command-line tools aside) has
its entry here with the same placeholders. ``FRAGMENTS`` are parts that other messages are
built from (a short line, a refusal), translated where they stand in a placeholder.
"""

from __future__ import annotations

NB: dict[str, str] = {
    # Service
    "The database is busy with other writers right now; try again in a moment.": (
        "Databasen er opptatt med andre skrivinger akkurat nå; prøv igjen om et øyeblikk."
    ),
    "This cart has no handoff code.": "Denne handlekurven har ingen overføringskode.",
    "first must be 0 to {shop_front.MAX_PAGE}.": "first må være 0 til {shop_front.MAX_PAGE}.",
    # Carts and lines
    "There is no such cart.": "Handlekurven finnes ikke.",
    "A quantity is a whole number of units.": "Et antall er et helt antall enheter.",
    "A quantity is between 1 and {max_quantity}; got {quantity}.": (
        "Et antall er mellom 1 og {max_quantity}; fikk {quantity}."
    ),
    "Give at least one line.": "Oppgi minst én linje.",
    "Give at most {MAX_LINES_PER_REQUEST} lines at once.": (
        "Oppgi høyst {MAX_LINES_PER_REQUEST} linjer om gangen."
    ),
    "The barcode {raw} is one of the chain's own codes that no product carries, or a price or "
    "weight label, which a cart cannot hold yet; add the product itself.": (
        "Strekkoden {raw} er en av kjedens egne koder som ingen vare har, eller en pris- eller "
        "vektetikett, som en handlekurv ikke kan inneholde ennå; legg til selve varen."
    ),
    "Give either gtin or productId for a line.": "Oppgi enten gtin eller productId for en linje.",
    "No product for sale has this barcode or id.": (
        "Ingen vare til salgs har denne strekkoden eller id-en."
    ),
    "At most {max_quantity} of one product fit in a cart; {holds}with this line it would hold "
    "{total}.": (
        "Høyst {max_quantity} av én vare får plass i en handlekurv; {holds}med denne linjen "
        "ville den hatt {total}."
    ),
    "At most {max_quantity} of one product fit in a cart; it holds {had}.": (
        "Høyst {max_quantity} av én vare får plass i en handlekurv; den har {had}."
    ),
    "The same line is named twice.": "Den samme linjen er oppgitt to ganger.",
    "The cart has no such line.": "Handlekurven har ingen slik linje.",
    "The cart changed meanwhile; it is at version {current.version} now.": (
        "Handlekurven ble endret i mellomtiden; den er på versjon {current.version} nå."
    ),
    "An idempotency key has 1 to {MAX_KEY_LENGTH} characters.": (
        "En idempotensnøkkel har 1 til {MAX_KEY_LENGTH} tegn."
    ),
    "This idempotency key was already used for a different request on this cart.": (
        "Denne idempotensnøkkelen er allerede brukt til en annen forespørsel på denne handlekurven."
    ),
    "Only a kiosk or staff device can pick up a cart with a code.": (
        "Bare en kiosk eller en ansattenhet kan hente en handlekurv med kode."
    ),
    "This code is wrong, expired or already used; ask for a new one on the phone.": (
        "Koden er feil, utløpt eller allerede brukt; be om en ny på telefonen."
    ),
    "Ask for .svg or .png.": "Be om .svg eller .png.",
    "Ask for CODE.svg or CODE.png.": "Be om KODE.svg eller KODE.png.",
    # Barcodes typed or scanned
    "No barcode was given.": "Ingen strekkode ble oppgitt.",
    "This link does not carry a product number (GTIN).": (
        "Denne lenken inneholder ikke et varenummer (GTIN)."
    ),
    "The scanned code does not carry a product number (GTIN).": (
        "Den skannede koden inneholder ikke et varenummer (GTIN)."
    ),
    'The barcode {_echo(text)} contains "{_echo(other[0])}"; a barcode has only the digits 0-9, '
    "spaces and dashes.": (
        "Strekkoden {_echo(text)} inneholder «{_echo(other[0])}»; en strekkode har bare "
        "sifrene 0–9, mellomrom og bindestreker."
    ),
    'The barcode {_echo(text)} uses digits other than 0-9 ("{_echo(foreign[0])}"); please type '
    "it with 0-9.": (
        "Strekkoden {_echo(text)} bruker andre sifre enn 0–9 («{_echo(foreign[0])}»); skriv den "
        "med 0–9."
    ),
    "The product number {compact} in the GS1 code has {length} digits instead of 14.": (
        "Varenummeret {compact} i GS1-koden har {length} sifre i stedet for 14."
    ),
    "The barcode {_echo(compact)} has {length} digits; product barcodes have 8, 12, 13 or 14.": (
        "Strekkoden {_echo(compact)} har {length} sifre; strekkoder på varer har 8, 12, 13 "
        "eller 14."
    ),
    "The barcode {shown} has a wrong check digit (expected {expected}).": (
        "Strekkoden {shown} har feil kontrollsiffer (ventet {expected})."
    ),
    "The barcode {gtin.display} is one of the chain's own codes (restricted circulation number), "
    "but no product carries it and no price or weight label template reads it.": (
        "Strekkoden {gtin.display} er en av kjedens egne koder (internt nummer), men ingen vare "
        "har den, og ingen mal for pris- eller vektetiketter kan lese den."
    ),
    "There is no text to draw as a barcode.": "Det er ingen tekst å tegne som strekkode.",
    "A Code 128 barcode holds at most {_CODE128_MAX_LENGTH} characters here.": (
        "En Code 128-strekkode har høyst {_CODE128_MAX_LENGTH} tegn her."
    ),
    "A Code 128 barcode can only hold the letters A-Z, digits and ASCII punctuation.": (
        "En Code 128-strekkode kan bare inneholde bokstavene A–Z, sifre og ASCII-tegnsetting."
    ),
    "There is no text to draw as a QR code.": "Det er ingen tekst å tegne som QR-kode.",
    "The text is too long for a QR code.": "Teksten er for lang for en QR-kode.",
    "Ask for at most {MAX_BATCH_GTINS} barcodes at once.": (
        "Be om høyst {MAX_BATCH_GTINS} strekkoder om gangen."
    ),
    # Ids, paging, limits
    "{global_id} is not a valid id.": "{global_id} er ikke en gyldig id.",
    "{global_id} is not a {expected_type} id.": "{global_id} er ikke en {expected_type}-id.",
    "That cursor is not one this server handed out.": (
        "Den pekeren er ikke en denne serveren har delt ut."
    ),
    "Ask for 0 to {MAX_ROWS} rows.": "Be om 0 til {MAX_ROWS} rader.",
    "Ask for 1 to 100 entries at a time.": "Be om 1 til 100 oppføringer om gangen.",
    "Ask for 1 to {MAX_PAGE} purchases.": "Be om 1 til {MAX_PAGE} kjøp.",
    "Ask for 0 to {MAX_PAGE} orders at a time.": "Be om 0 til {MAX_PAGE} bestillinger om gangen.",
    "Ask for 1 to {MAX_PAGE} hits at a time.": "Be om 1 til {MAX_PAGE} treff om gangen.",
    "Search reaches the first {MAX_OFFSET} hits only.": (
        "Søket når bare de første {MAX_OFFSET} treffene."
    ),
    "Ask for 0 to {MAX_ALTERNATIVES} alternatives.": "Be om 0 til {MAX_ALTERNATIVES} alternativer.",
    "Ask for 0 to {MAX_COMPLEMENTS} complements.": "Be om 0 til {MAX_COMPLEMENTS} tilbehørsvarer.",
    "Ask for 1 to {MAX_PAGE} levels at a time.": "Be om 1 til {MAX_PAGE} lagernivåer om gangen.",
    "Ask for 1 to {MAX_PAGE} movements at a time.": (
        "Be om 1 til {MAX_PAGE} lagerbevegelser om gangen."
    ),
    "Too many failed attempts; try again in up to {minutes} minutes.": (
        "For mange mislykkede forsøk; prøv igjen om inntil {minutes} minutter."
    ),
    # Search and services
    "Search is unavailable right now; scanning and barcode lookup still work.": (
        "Søket er utilgjengelig akkurat nå; skanning og oppslag på strekkode virker fortsatt."
    ),
    "Search failed; please try again.": "Søket mislyktes; prøv igjen.",
    "A service omnicart depends on cannot be reached right now; try again shortly.": (
        "En tjeneste omnicart er avhengig av, svarer ikke akkurat nå; prøv igjen om litt."
    ),
    # Products, stores, orders
    "There is no such product.": "Varen finnes ikke.",
    "No product has this barcode.": "Ingen vare har denne strekkoden.",
    "There is no such order.": "Bestillingen finnes ikke.",
    "There is no such store.": "Butikken finnes ikke.",
    "No such store.": "Butikken finnes ikke.",
    "There is no such store to collect at.": "Det finnes ingen slik butikk å hente i.",
    "There is no online warehouse to deliver from.": "Det finnes ikke noe nettlager å levere fra.",
    "Give either clickAndCollect or delivery.": "Velg enten Hent i butikk eller levering.",
    "A note has at most {MAX_NOTE} characters.": "Et notat har høyst {MAX_NOTE} tegn.",
    "This idempotency key already placed an order with a different request.": (
        "Denne idempotensnøkkelen har allerede lagt inn en bestilling med en annen forespørsel."
    ),
    "Not enough stock at {where}. {shortages}.": "Ikke nok på lager på {where}. {shortages}.",
    "Name the store that takes the return.": "Oppgi butikken som tar imot returen.",
    "Returns are taken into your own store.": "Returer tas imot i din egen butikk.",
    "A {_words(order.fulfilment)} order cannot be {_words(action)}.": (
        "En bestilling ({_words(order.fulfilment)}) kan ikke få handlingen «{_words(action)}»."
    ),
    "The order is {_words(status)}; {refusal}": "Bestillingen er «{_words(status)}»; {refusal}",
    "Only admins move online orders through the warehouse.": (
        "Bare administratorer flytter nettbestillinger gjennom lageret."
    ),
    "Only staff of the pickup store can change this order.": (
        "Bare ansatte i hentebutikken kan endre denne bestillingen."
    ),
    "Name at least one line, or leave lines out.": "Oppgi minst én linje, eller utelat lines.",
    "The order has no such line.": "Bestillingen har ingen slik linje.",
    "Between 1 and {left} unit(s) of this line can come back.": (
        "Mellom 1 og {left} enhet(er) av denne linjen kan returneres."
    ),
    "Staff see their own store's orders.": "Ansatte ser bestillingene i sin egen butikk.",
    "The cart is empty: there is nothing to order.": (
        "Handlekurven er tom: det er ingenting å bestille."
    ),
    "Only kiosks and staff devices place kiosk and staff orders.": (
        "Bare kiosker og ansattenheter legger inn kiosk- og ansattbestillinger."
    ),
    "Name at least one line, or leave lineIds out.": "Oppgi minst én linje, eller utelat lineIds.",
    "Name at most {MAX_LINE_IDS} lines.": "Oppgi høyst {MAX_LINE_IDS} linjer.",
    "A delivery address has 1 to {MAX_ADDRESS} characters.": (
        "En leveringsadresse har 1 til {MAX_ADDRESS} tegn."
    ),
    "Tills and warehouse systems do not place orders.": (
        "Kasser og lagersystemer legger ikke inn bestillinger."
    ),
    # Accounts and sign-in
    "An account with this email exists; sign in instead.": (
        "Det finnes allerede en konto med denne e-postadressen; logg inn i stedet."
    ),
    "A name has at most 200 characters.": "Et navn har høyst 200 tegn.",
    "A phone number has at most 40 characters.": "Et telefonnummer har høyst 40 tegn.",
    "You are not signed in.": "Du er ikke logget inn.",
    "A device is a kiosk, staff, pos or warehouse device.": (
        "En enhet er en kiosk-, ansatt-, kasse- eller lagerenhet."
    ),
    "No store has the code {store_code}.": "Ingen butikk har koden {store_code}.",
    "There is no device {device_id}.": "Enheten {device_id} finnes ikke.",
    "This is not an email address.": "Dette er ikke en e-postadresse.",
    "A password has {MIN_PASSWORD} to {MAX_PASSWORD} characters.": (
        "Et passord har {MIN_PASSWORD} til {MAX_PASSWORD} tegn."
    ),
    "The email or password is wrong.": "E-postadressen eller passordet er feil.",
    "Sign in to reach your account.": "Logg inn for å komme til kontoen din.",
    "The language is nb or en.": "Språket er nb eller en.",
    "There is no such customer.": "Kunden finnes ikke.",
    "Type your email address to confirm.": "Skriv inn e-postadressen din for å bekrefte.",
    # The club
    "Only a kiosk or staff can look up a member.": (
        "Bare en kiosk eller ansatte kan slå opp et medlem."
    ),
    "No member has this member number or phone number.": (
        "Ingen medlemmer har dette medlemsnummeret eller telefonnummeret."
    ),
    "Accept the club terms to join.": "Godta vilkårene for kundeklubben for å bli medlem.",
    "You are already a member.": "Du er allerede medlem.",
    "Give a member number or a phone number.": "Oppgi et medlemsnummer eller et telefonnummer.",
    "Use between 0 and {MAX_USE} points.": "Bruk mellom 0 og {MAX_USE} poeng.",
    "{points} points are worth more than the order; use at most {total // POINT_VALUE}.": (
        "{points} poeng er verdt mer enn bestillingen; bruk høyst {total // POINT_VALUE}."
    ),
    "Only club members pay with points.": "Bare medlemmer av kundeklubben kan betale med poeng.",
    "You have {have} points; this checkout asks for {points}.": (
        "Du har {have} poeng; denne bestillingen ber om {points}."
    ),
    "Only the customer and staff see purchase history.": (
        "Bare kunden og ansatte ser kjøpshistorikken."
    ),
    "There is no such receipt.": "Kvitteringen finnes ikke.",
    "A receipt number has 1 to {MAX_NUMBER} characters.": (
        "Et kvitteringsnummer har 1 til {MAX_NUMBER} tegn."
    ),
    "A receipt has 1 to {MAX_LINES} lines.": "En kvittering har 1 til {MAX_LINES} linjer.",
    "The receipt has no such product.": "Kvitteringen har ingen slik vare.",
    "Between 1 and {left[product_id]} unit(s) can come back.": (
        "Mellom 1 og {left[product_id]} enhet(er) kan returneres."
    ),
    "A line has 1 to 10000 units.": "En linje har 1 til 10000 enheter.",
    "Product {product_id} is not sold.": "Vare {product_id} selges ikke.",
    # Notifications
    "Sign in to be told by email or SMS; push needs a cart or a sign-in.": (
        "Logg inn for å få beskjed på e-post eller SMS; varsler krever en handlekurv eller "
        "innlogging."
    ),
    "It is in stock in this store now.": "Den er på lager i denne butikken nå.",
    "Add a phone number to your account to be told by SMS.": (
        "Legg til et telefonnummer i kontoen din for å få beskjed på SMS."
    ),
    "Allow notifications in this browser first.": "Tillat varsler i denne nettleseren først.",
    "A phone number has 6 to 15 digits, optionally after a +.": (
        "Et telefonnummer har 6 til 15 sifre, eventuelt etter en +."
    ),
    "A push endpoint is an https:// URL.": "Et varselendepunkt er en https://-adresse.",
    "This is not a browser's push key ({field}).": (
        "Dette er ikke en nettlesers varselnøkkel ({field})."
    ),
    "This is not a push endpoint URL.": "Dette er ikke en adresse til et varselendepunkt.",
    "Sign in, or start a cart, to be notified.": (
        "Logg inn, eller start en handlekurv, for å få varsler."
    ),
    # Staff
    "Only staff can do this.": "Bare ansatte kan gjøre dette.",
    "Your staff role cannot do this.": "Rollen din som ansatt kan ikke gjøre dette.",
    "Staff see their own store's scan report.": "Ansatte ser skannerapporten for sin egen butikk.",
    "The period ends after it starts.": "Perioden slutter etter at den starter.",
    "A report covers at most a year.": "En rapport dekker høyst ett år.",
    "A staff role is staff or admin.": "En ansattrolle er staff eller admin.",
    "A name has 1 to 200 characters.": "Et navn har 1 til 200 tegn.",
    "You are not signed in as staff.": "Du er ikke logget inn som ansatt.",
    "Staff work in one store: give its code.": "Ansatte jobber i én butikk: oppgi koden til den.",
    "A staff account with this email exists.": (
        "Det finnes allerede en ansattkonto med denne e-postadressen."
    ),
    "Search with {MIN_QUERY} to {MAX_QUERY} characters of a name, email or phone.": (
        "Søk med {MIN_QUERY} til {MAX_QUERY} tegn av et navn, en e-postadresse eller et "
        "telefonnummer."
    ),
    # Stock from tills and warehouses
    "This device does not record stock for {where}.": (
        "Denne enheten registrerer ikke lager for {where}."
    ),
    "No product has the code {movement.gtin[:40]}.": "Ingen vare har koden {movement.gtin[:40]}.",
    "Transfer {m.transfer_id[:40]}: {problem}": "Overføring {m.transfer_id[:40]}: {problem}",
    "movementId {mid[:40]} was recorded with other content.": (
        "movementId {mid[:40]} ble registrert med annet innhold."
    ),
    "No store has the id or code {text[:40]}.": "Ingen butikk har id-en eller koden {text[:40]}.",
    "A line has at most {MAX_LINE_BYTES} bytes.": "En linje har høyst {MAX_LINE_BYTES} byte.",
    "A line is one JSON object.": "En linje er ett JSON-objekt.",
    "Unknown field {unknown[0]}.": "Ukjent felt {unknown[0]}.",
    "{name} must be a string.": "{name} må være en tekst.",
    "{name} must be a whole number.": "{name} må være et heltall.",
    "This line is not JSON.": "Denne linjen er ikke JSON.",
    "{name} must be an ISO 8601 time.": "{name} må være et ISO 8601-tidspunkt.",
    "A movementId has 1 to 100 printable characters.": (
        "En movementId har 1 til 100 skrivbare tegn."
    ),
    "{movement.kind} is not a movement kind.": "{movement.kind} er ikke en type lagerbevegelse.",
    "occurredAt needs a time zone (e.g. Z or +01:00).": (
        "occurredAt trenger en tidssone (f.eks. Z eller +01:00)."
    ),
    "occurredAt is in the future; check the clock.": "occurredAt er i fremtiden; sjekk klokken.",
    "A receiptNumber has 1 to 64 characters.": "Et receiptNumber har 1 til 64 tegn.",
    "A customerPhone has 1 to 40 characters.": "Et customerPhone har 1 til 40 tegn.",
    "Only till (pos) and warehouse devices record stock movements.": (
        "Bare kasser (pos) og lagerenheter registrerer lagerbevegelser."
    ),
    "A transfer needs a transferId (1 to 100 characters).": (
        "En overføring trenger en transferId (1 til 100 tegn)."
    ),
    "Only TRANSFER_OUT and TRANSFER_IN take a transferId.": (
        "Bare TRANSFER_OUT og TRANSFER_IN har en transferId."
    ),
    "Another call recorded one of these movementIds at the same moment; send it again.": (
        "Et annet kall registrerte en av disse movementId-ene i samme øyeblikk; send det igjen."
    ),
    "Only admins read the online warehouse's stock.": (
        "Bare administratorer leser nettlagerets beholdning."
    ),
    "That place holds no stock.": "Det stedet har ikke lager.",
    "Send at most {MAX_MOVEMENTS} movements a call; split the rest.": (
        "Send høyst {MAX_MOVEMENTS} lagerbevegelser per kall; del opp resten."
    ),
}

# Parts other messages are built from, translated where they fill a placeholder.
FRAGMENTS: dict[str, str] = {
    "{name}: {requested} asked, {available} available": (
        "{name}: {requested} ønsket, {available} tilgjengelig"
    ),
    "it holds {had}, and ": "den har {had}, og ",
    "it cannot be {verb} now.": "den kan ikke få handlingen «{verb}» nå.",
    "only collected or delivered orders come back.": (
        "bare hentede eller leverte bestillinger kan returneres."
    ),
}
