/**
 * A host's podcast settings: what their feed (/feeds/<host>.rss) says about the show, for Apple
 * Podcasts and every app that reads its tags. Set per host identity by the operator; whatever is not
 * set falls back to the defaults below (the artwork to one Rostrum draws, /feeds/<host>.png).
 */
export interface HostFeed {
  title?: string;
  description?: string;
  author?: string;
  ownerName?: string;
  ownerEmail?: string;
  /** The show's artwork: a JPEG or PNG, square, 1400 to 3000 pixels (Apple's rule). */
  imageUrl?: string;
  category?: AppleCategory;
  subcategory?: string;
  explicit?: boolean;
  /** BCP 47 (en, en-GB, fr…). */
  language?: string;
  /** The show's site. */
  link?: string;
}

/** Apple Podcasts' top-level categories (podcasters.apple.com, "Apple Podcasts categories"). */
export const APPLE_CATEGORIES = [
  'Arts',
  'Business',
  'Comedy',
  'Education',
  'Fiction',
  'Government',
  'Health & Fitness',
  'History',
  'Kids & Family',
  'Leisure',
  'Music',
  'News',
  'Religion & Spirituality',
  'Science',
  'Society & Culture',
  'Sports',
  'Technology',
  'True Crime',
  'TV & Film',
] as const;
export type AppleCategory = (typeof APPLE_CATEGORIES)[number];

/** What the feed says where a host set nothing. */
export const FEED_DEFAULTS = { category: 'Society & Culture' as AppleCategory, explicit: false, language: 'en' };
