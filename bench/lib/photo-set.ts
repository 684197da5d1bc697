/**
 * The photo set of the processing scenario: small and mid-size JPEGs of the kinds a catalogue
 * holds (baseline, progressive, EXIF-rotated, CMYK, greyscale) in turn, and one 6 MP photo in
 * every ten images. Which photo an index gets is fixed, so every mode processes the same set.
 */

/** Fixture files taken in turn, from `test/fixtures/images`. */
export const CYCLED_PHOTOS = [
  'photo-landscape-0.3mp.jpg',
  'progressive.jpg',
  'exif-orientation-6.jpg',
  'cmyk.jpg',
  'grayscale.jpg',
] as const;

/** The large photo, at every index ending in 9. */
export const LARGE_PHOTO = 'photo-saw-6mp.jpg';

/** Every file the photo server must hold. */
export const ALL_PHOTOS: readonly string[] = [...CYCLED_PHOTOS, LARGE_PHOTO];

/** The fixture served for image number `n` (0-based). */
export function photoFor(n: number): string {
  if (n % 10 === 9) return LARGE_PHOTO;

  // Count only the small photos before n, so the cycle runs evenly across the large ones.
  const small = n - Math.floor(n / 10);
  return CYCLED_PHOTOS[small % CYCLED_PHOTOS.length] ?? LARGE_PHOTO;
}

/**
 * `count` distinct URLs on the photo server at `baseUrl`. `run` goes into each query string too,
 * so no two runs of one bench ask for the same URL.
 */
export function photoUrls(baseUrl: string, count: number, run: string): string[] {
  return Array.from({ length: count }, (_, n) => `${baseUrl}/photo.jpg?n=${n}&run=${run}`);
}
