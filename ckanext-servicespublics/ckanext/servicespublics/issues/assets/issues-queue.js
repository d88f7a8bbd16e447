/* Moderation queue: "select all" for the bulk actions. */
this.ckan.module('servicespublics-issues-queue', function ($) {
  return {
    initialize: function () {
      var form = this.el;
      form.find('[data-select-all]').on('change', function () {
        form.find('input[name="report"]').prop('checked', this.checked);
      });
    }
  };
});
