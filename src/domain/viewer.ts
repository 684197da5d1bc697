/** Who is calling: the JWT's subject, and whether it may see every owner's requests. */
export interface Viewer {
  subject: string;
  isAdmin: boolean;
}

/** Whether `viewer` may see something owned by `ownerId`. */
export function canSee(viewer: Viewer, ownerId: string): boolean {
  return viewer.isAdmin || viewer.subject === ownerId;
}
