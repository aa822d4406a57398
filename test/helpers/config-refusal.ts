/** The one-line message a bad configuration is refused with, or `accepted`. */
export function refusal(load: () => unknown): string {
  try {
    load();
  } catch (err) {
    return (err as Error).message;
  }
  return 'accepted';
}
