/** Who is calling: the JWT's subject, and whether it may see every owner's requests. */
export interface Viewer {
  subject: string;
  isAdmin: boolean;
}

/** Whether `viewer` is the subject that owns something owned by `ownerId`. */
export function isOwnerOf(viewer: Viewer, ownerId: string): boolean {
  return viewer.subject === ownerId;
}

/**
 * Whether `viewer` may see something owned by `ownerId`: its owner or an admin. The one rule
 * behind the GraphQL rule `canSeeRequest`, the REST routes and the services; the
 * `/files` URLs are handed out only through answers this rule allowed.
 */
export function canSee(viewer: Viewer, ownerId: string): boolean {
  return viewer.isAdmin || isOwnerOf(viewer, ownerId);
}
