import { sql, type Kysely } from 'kysely';

/*
 * `reservations.result` no longer stores the user's e-mail and phone (they live in `booking_users` only; a
 * result read back gets its user from there). This scrubs the rows written before: `user.email` and
 * `user.phone` removed from every stored result. Frozen in time: imports only `kysely`.
 */

/** Removes `user.email` and `user.phone` from every `reservations.result`. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    UPDATE reservations
    SET result = result #- '{user,email}' #- '{user,phone}'
    WHERE jsonb_typeof(result -> 'user') = 'object' AND (result -> 'user' ? 'email' OR result -> 'user' ? 'phone')
  `.execute(db);
}

/** Puts the e-mail and phone back into each stored result's `user`, from the reservation's `booking_users` row. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    UPDATE reservations AS r
    SET result = jsonb_set(jsonb_set(r.result, '{user,email}', to_jsonb(u.email)), '{user,phone}', to_jsonb(u.phone))
    FROM booking_users AS u
    WHERE u.id = r.user_id AND jsonb_typeof(r.result -> 'user') = 'object'
  `.execute(db);
}
