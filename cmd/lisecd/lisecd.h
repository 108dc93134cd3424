/* What lisecd's files share: the list of settings it accepts. */
#ifndef LISECD_H
#define LISECD_H

/* "section.key" strings, NULL-terminated (settings.c). */
extern const char *const lisecd_known_settings[];

#endif
