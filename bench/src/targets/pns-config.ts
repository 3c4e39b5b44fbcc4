/** Keys the bench's pns server runs with: the driver publishes with the key, load generators mint tokens with the secret. */
export const pnsSecret = 'pns-bench-secret-0123456789abcdef';
export const pnsPublishKey = 'pns-bench-publish-key-0123456789';
/** Lifetime of the tokens the load generators mint: longer than any run. */
export const benchTokenTtl = '1d';
