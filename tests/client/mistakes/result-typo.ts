// expect: TS2551 (a field the query did not select)
import type { InvoiceQuery } from "../src/generated/graphql.js";

export function balance(result: InvoiceQuery): string | null | undefined {
  return result.invoice.balanse;
}
