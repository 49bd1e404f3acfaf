/** OpenAI's timestamps: whole seconds since the epoch. */
export const unixSeconds = (date: Date): number => Math.floor(date.getTime() / 1000);
