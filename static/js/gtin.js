// Barcode sanity checks on the device, so a misread camera frame never reaches the server.
// The server stays the judge of what a code means (server/gtin.py); this only filters.

/** Digits of a typed or scanned code with spaces and dashes removed, or null if not digits. */
export function digitsOf(code) {
  const digits = String(code).replace(/[\s-]/g, "");
  return /^[0-9]+$/.test(digits) ? digits : null;
}

/** Whether `digits` (8, 12, 13 or 14 long) ends with a correct GS1 check digit. */
export function hasValidCheckDigit(digits) {
  if (!/^(\d{8}|\d{12}|\d{13}|\d{14})$/.test(digits)) return false;
  let sum = 0;
  const body = digits.slice(0, -1);
  for (let i = 0; i < body.length; i++) {
    // Weights alternate 3,1,3,… counting from the digit next to the check digit.
    const weight = (body.length - i) % 2 === 1 ? 3 : 1;
    sum += Number(body[i]) * weight;
  }
  return (10 - (sum % 10)) % 10 === Number(digits.at(-1));
}
