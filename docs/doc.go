// Package docs holds hookworker's manual, one Markdown page a topic. It has
// no code: its tests run the walkthroughs the pages show, command by
// command, against the hookworker binary, and check the pages' links, so
// that the manual cannot drift from the program.
//
// In a walkthrough page, a ```sh block is run; the "# " lines after a
// command are what it prints, "…" standing for any text (a command that
// does not print them yet, because the result or record it reads is stored
// a moment after the delivery, is run again for a few seconds). A ```sh block
// marked exit=N is expected to exit N; one marked background (or
// background=NAME) keeps running, its "# " lines being what it prints when
// it is ready; a ```json block marked from=NAME holds lines that the
// background command NAME prints. Blocks that are not to be run are ```text.
package docs
