/** Escapes text for HTML and XML (element content and quoted attributes) as numeric character references. */
export const escapeMarkup = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
