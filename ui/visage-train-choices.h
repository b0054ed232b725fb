/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The Train dialog's choices: the engine's names of the configurations, losses, optimisers
 * and best-checkpoint selections (the one table of each, vg-config.h and vg-train.h), in
 * its order, under the labels the dialog shows. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _VisageTrainChoices VisageTrainChoices;

extern const VisageTrainChoices visage_train_config_choices; /* then "custom" */
extern const VisageTrainChoices visage_train_loss_choices;
extern const VisageTrainChoices visage_train_optimizer_choices;
extern const VisageTrainChoices visage_train_select_choices;

/* The name of choice k (the engine's kind k for the losses, optimisers and selections), or
 * NULL past the last. */
const char *visage_train_choice_name (const VisageTrainChoices *choices, guint k);

/* The translated label of choice k; the name itself, with a warning, where the dialog has
 * no label for a name the engine added. */
const char *visage_train_choice_label (const VisageTrainChoices *choices, guint k);

/* A GtkStringList of the labels, for an AdwComboRow. */
GListModel *visage_train_choices_new_model (const VisageTrainChoices *choices);

G_END_DECLS
